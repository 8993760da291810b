"""The lifting network: the paper's shape, normalisation, missing joints, and that it can learn."""

import pytest
import torch

from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats, count_parameters
from weakpose_lite.skeleton import BODY


def _identity_stats(joints: int) -> NormalisationStats:
    return NormalisationStats(torch.zeros(joints, 2), torch.ones(joints, 2), torch.zeros(joints, 3), torch.ones(joints, 3))


def test_paper_model_has_six_linear_layers_and_4_3_million_parameters():
    model = LiftingNetwork(ModelConfig(), BODY, _identity_stats(18))
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 6
    assert all(m.out_features == 1024 for m in linear[:-1])
    # 36·1024+1024 + 4·(1024²+1024) + 1024·54+54 + 5 BatchNorms·2·1024
    assert count_parameters(model) == 36 * 1024 + 1024 + 4 * (1024**2 + 1024) + 1024 * 54 + 54 + 5 * 2048 == 4_301_878


def test_weights_follow_xavier_uniform_bounds_and_zero_biases():
    model = LiftingNetwork(ModelConfig(), BODY, _identity_stats(18))
    for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
        bound = (6 / (layer.in_features + layer.out_features)) ** 0.5
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound
        assert (layer.bias == 0).all()


def test_output_is_root_relative_and_unnormalised():
    torch.manual_seed(0)
    stats = NormalisationStats(torch.zeros(18, 2), torch.ones(18, 2), torch.full((18, 3), 50.0), torch.full((18, 3), 300.0))
    model = LiftingNetwork(ModelConfig(), BODY, stats).eval()
    output = model(torch.randn(5, 18, 2), torch.ones(5, 18, dtype=torch.bool))
    assert output.shape == (5, 18, 3)
    assert (output[:, 1] == 0).all()
    assert output.abs().mean() > 10  # in mm, not in standardised units


def test_missing_joints_enter_as_the_training_mean():
    torch.manual_seed(1)
    stats = NormalisationStats(torch.randn(18, 2), torch.rand(18, 2) + 0.5, torch.zeros(18, 3), torch.ones(18, 3))
    model = LiftingNetwork(ModelConfig(hidden=64), BODY, stats).eval()
    keypoints = torch.randn(3, 18, 2)
    visible = torch.ones(3, 18, dtype=torch.bool)
    visible[:, 4] = False
    with_garbage = keypoints.clone()
    with_garbage[:, 4] = 1e6
    at_mean = keypoints.clone()
    at_mean[:, 4] = stats.mean_2d[4]
    reference = model(at_mean, torch.ones_like(visible))
    torch.testing.assert_close(model(with_garbage, visible), reference)


def test_isotropic_stats_from_2d_read_no_3d_and_scale_by_depth():
    generator = torch.Generator().manual_seed(2)
    relative_2d = torch.randn(100, 18, 2, generator=generator) * 0.1
    visible = torch.ones(100, 18, dtype=torch.bool)
    stats = NormalisationStats.from_2d(relative_2d, visible, torch.full((100,), 3000.0), per_joint=False)
    assert (stats.mean_3d == 0).all()
    assert stats.std_3d[0, 0].item() == pytest.approx(300, rel=0.1)  # 0.1 normalised units at 3 m
    assert (stats.std_3d == stats.std_3d[0, 0]).all()


def test_per_joint_stats_from_2d_are_each_joints_2d_mean_and_spread_times_the_median_depth():
    generator = torch.Generator().manual_seed(3)
    spread = torch.linspace(0.01, 0.2, 18)[:, None] * torch.tensor([1.0, 2.0])  # (J, 2): x half of y
    offset = torch.linspace(-0.3, 0.3, 18)[:, None].expand(18, 2)
    relative_2d = offset + spread * torch.randn(5000, 18, 2, generator=generator, dtype=torch.float64).float()
    visible = torch.ones(5000, 18, dtype=torch.bool)
    depth = torch.linspace(2000.0, 4000.0, 5000)  # median 3000
    stats = NormalisationStats.from_2d(relative_2d, visible, depth, per_joint=True)
    median = depth.median()
    torch.testing.assert_close(stats.mean_3d[:, :2], relative_2d.mean(0) * median)
    assert (stats.mean_3d[:, 2] == 0).all()
    torch.testing.assert_close(stats.std_3d[:, :2], relative_2d.std(0, correction=0) * median)
    torch.testing.assert_close(stats.std_3d[:, 2], stats.std_3d[:, 0])  # depth varies as the horizontal offset


def test_masked_statistics_ignore_invisible_joints():
    relative = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]], [[1e9, 1e9]]])
    visible = torch.tensor([[True], [True], [False]])
    stats = NormalisationStats.from_3d(relative, visible, torch.zeros(1, 1, 3), torch.ones(1, 1, dtype=torch.bool))
    torch.testing.assert_close(stats.mean_2d, torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(stats.std_2d, torch.tensor([[1.0, 1.0]]))


def test_model_fits_a_tiny_batch():
    torch.manual_seed(3)
    inputs = torch.randn(32, 18, 2)
    targets = torch.randn(32, 18, 3) * 100
    targets[:, 1] = 0
    visible = torch.ones(32, 18, dtype=torch.bool)
    stats = NormalisationStats.from_3d(inputs, visible, targets, visible)
    model = LiftingNetwork(ModelConfig(hidden=256, dropout=0.0), BODY, stats)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(300):
        loss = (model(inputs, visible) - targets).norm(dim=-1).mean()
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.1 * first
