"""Metrics against brute-force loops and their invariances."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from weakpose_lite import metrics
from weakpose_lite.skeleton import BODY

pytestmark = pytest.mark.usefixtures("float64_default")  # compared against float64 references


def _random_rotation(generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.linalg.det(q) > 0 else -q


def _poses(seed: int, n: int = 6, joints: int = 18):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(n, joints, 3, generator=generator) * 300
    predicted = target + torch.randn(n, joints, 3, generator=generator) * 40
    valid = torch.rand(n, joints, generator=generator) > 0.2
    return predicted, target, valid, generator


def test_mpjpe_averages_over_valid_joints_like_a_loop():
    predicted, target, valid, _ = _poses(0)
    valid[2] = False  # an empty frame must not count as zero error
    target = torch.where(valid.unsqueeze(-1), target, torch.full_like(target, float("nan")))
    errors = [
        math.dist(predicted[n, j].tolist(), target[n, j].tolist())
        for n in range(predicted.shape[0]) for j in range(predicted.shape[1]) if valid[n, j]
    ]
    assert metrics.mpjpe(predicted, target, valid).item() == pytest.approx(sum(errors) / len(errors), rel=1e-12)


def test_per_joint_mpjpe_matches_loop():
    predicted, target, valid, _ = _poses(1)
    per_joint = metrics.mpjpe_per_joint(predicted, target, valid)
    for j in range(predicted.shape[1]):
        errors = [math.dist(predicted[n, j].tolist(), target[n, j].tolist()) for n in range(predicted.shape[0]) if valid[n, j]]
        assert per_joint[j].item() == pytest.approx(sum(errors) / len(errors), rel=1e-12)


def test_scale_alignment_is_the_least_squares_scale():
    predicted, target, valid, _ = _poses(2, n=1)
    aligned = metrics.scale_align(predicted, target, valid)
    scales = torch.linspace(0.5, 1.5, 2001)
    brute = [((s * predicted - target)[valid].square().sum()).item() for s in scales]
    best = scales[int(torch.tensor(brute).argmin())]
    assert (aligned / predicted)[0, 0, 0].item() == pytest.approx(best.item(), abs=1e-3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.3, 3.0))
def test_p_mpjpe_is_invariant_to_a_similarity_transform(seed, scale):
    predicted, target, valid, generator = _poses(seed)
    rotation = _random_rotation(generator)
    shift = torch.randn(3, generator=generator) * 1000
    moved = scale * predicted @ rotation.T + shift
    assert metrics.p_mpjpe(moved, target, valid).item() == pytest.approx(metrics.p_mpjpe(predicted, target, valid).item(), rel=1e-6)


def test_procrustes_recovers_an_exact_similarity():
    _, target, valid, generator = _poses(3)
    rotation = _random_rotation(generator)
    predicted = 0.7 * (target @ rotation.T) + torch.tensor([10.0, -20.0, 5.0])
    assert metrics.p_mpjpe(predicted, target, valid).item() < 1e-8


def test_procrustes_does_not_undo_a_reflection():
    _, target, valid, _ = _poses(4)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0])
    assert metrics.p_mpjpe(mirrored, target, valid).item() > 50


def test_procrustes_matches_scipy_orthogonal_procrustes_for_one_pose():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    predicted, target, _, _ = _poses(5, n=1)
    valid = torch.ones(1, 18, dtype=torch.bool)
    p = (predicted[0] - predicted[0].mean(0)).numpy()
    g = (target[0] - target[0].mean(0)).numpy()
    rotation, singular_sum = scipy_linalg.orthogonal_procrustes(p, g)
    reference = singular_sum / (p**2).sum() * p @ rotation + target[0].mean(0).numpy()
    aligned = metrics.procrustes_align(predicted, target, valid)[0].numpy()
    assert abs(aligned - reference).max() < 1e-8


def test_pck3d_counts_within_threshold_over_valid_joints():
    target = torch.zeros(1, 4, 3)
    predicted = torch.tensor([[[100.0, 0, 0], [200.0, 0, 0], [150.0, 0, 0], [0.0, 0, 1000]]])
    valid = torch.tensor([[True, True, True, False]])
    assert metrics.pck3d(predicted, target, valid).item() == pytest.approx(2 / 3)


def test_evaluate_excludes_the_root_and_reports_every_metric():
    predicted, target, valid, _ = _poses(6)
    predicted[:, 1] = target[:, 1] + 1000  # a root error must not count
    result = metrics.evaluate(predicted, target, valid, BODY)
    without_root = valid.clone()
    without_root[:, 1] = False
    assert result["mpjpe_mm"] == pytest.approx(metrics.mpjpe(predicted, target, without_root).item())
    assert math.isnan(result["per_joint_mpjpe_mm"][1])
    assert set(result) >= {"mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm", "pck3d_150mm", "per_joint_mpjpe_mm"}


def test_paper_tables_are_consistent():
    from weakpose_lite import paper
    from weakpose_lite.skeleton import COCO18

    assert set(paper.TABLE_3_MPJPE_MM) == set(COCO18) - {"neck"}
    for column, name in enumerate(("strong", "weak")):
        values = [row[column] for row in paper.TABLE_3_MPJPE_MM.values()]
        assert sum(values) / len(values) == pytest.approx(paper.TABLE_2_MPJPE_MM["body"][name], abs=1e-3)


def test_bone_length_ratio_matches_loop_and_detects_collapse():
    _, target, valid, _ = _poses(7)
    shrunk = target * 0.25
    assert metrics.bone_length_ratio(shrunk, target, valid, BODY.bones).item() == pytest.approx(0.25)
    predicted = target + torch.randn(target.shape, generator=torch.Generator().manual_seed(7)) * 30
    predicted_lengths, target_lengths = [], []  # over the bones whose two joints are valid, a plain loop
    for n in range(len(target)):
        for parent, child in BODY.bones:
            if valid[n, parent] and valid[n, child]:
                predicted_lengths.append(math.dist(predicted[n, parent].tolist(), predicted[n, child].tolist()))
                target_lengths.append(math.dist(target[n, parent].tolist(), target[n, child].tolist()))
    expected = (sum(predicted_lengths) / len(predicted_lengths)) / (sum(target_lengths) / len(target_lengths))
    assert metrics.bone_length_ratio(predicted, target, valid, BODY.bones).item() == pytest.approx(expected, rel=1e-12)


# ---- shapes that merely broadcast are refused; masked-out NaN never leaks ---------------------------------------

METRICS = {
    "mpjpe": metrics.mpjpe,
    "n_mpjpe": metrics.n_mpjpe,
    "p_mpjpe": metrics.p_mpjpe,
    "pck3d": metrics.pck3d,
    "mpjpe_per_joint": metrics.mpjpe_per_joint,
    "bone_length_ratio": lambda *poses: metrics.bone_length_ratio(*poses, BODY.bones),
    "evaluate": lambda *poses: metrics.evaluate(*poses, BODY),
}
BROADCASTING = {
    "one target pose for every sample": lambda p, t, v: (p, t[0], v, r"target must be floating point \(6, 18, 3\)",
                                                         r"got \(18, 3\)"),
    "targets with a sample axis of 1": lambda p, t, v: (p, t[:1], v, r"target must be floating point \(6, 18, 3\)",
                                                        r"got \(1, 18, 3\)"),
    "one mask for every sample": lambda p, t, v: (p, t, v[0], r"valid must be bool \(6, 18\)", r"got \(18,\)"),
    "a float mask": lambda p, t, v: (p, t, v.double(), r"valid must be bool \(6, 18\)", r"got float64"),
    "2D predictions": lambda p, t, v: (p[..., :2], t[..., :2], v, r"predicted must be floating point \(\S+, J, 3\)",
                                       r"got \(6, 18, 2\)"),
}


@pytest.mark.parametrize("case", BROADCASTING)
@pytest.mark.parametrize("name", METRICS)
def test_every_metric_refuses_shapes_that_merely_broadcast_naming_the_argument_and_both_shapes(name, case):
    predicted, target, valid, _ = _poses(8)
    *arguments, argument_message, shapes_message = BROADCASTING[case](predicted, target, valid)
    with pytest.raises(ValueError, match=rf"^{name}: {argument_message}.*{shapes_message}"):
        METRICS[name](*arguments)


@pytest.mark.parametrize("name", ["mpjpe_per_joint", "evaluate"])
def test_per_sample_metrics_refuse_frames_by_views_which_they_would_average_over_the_wrong_axis(name):
    predicted, target, valid, _ = _poses(9)
    with pytest.raises(ValueError, match=rf"^{name}: predicted must be floating point \(N, J, 3\), got \(2, 3, 18, 3\)"):
        METRICS[name](predicted.reshape(2, 3, 18, 3), target.reshape(2, 3, 18, 3), valid.reshape(2, 3, 18))


@pytest.mark.parametrize("name", ["mpjpe", "n_mpjpe", "p_mpjpe", "pck3d", "mpjpe_per_joint", "bone_length_ratio"])
def test_nan_at_joints_that_are_not_scored_changes_no_metric(name):
    predicted, target, valid, _ = _poses(10)
    garbage = torch.where(valid.unsqueeze(-1), predicted, torch.nan)  # predictions there may hold anything
    unknown = torch.where(valid.unsqueeze(-1), target, torch.nan)
    expected, result = METRICS[name](predicted, target, valid), METRICS[name](garbage, unknown, valid)
    assert torch.isfinite(result).all()
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-9)


def test_n_mpjpe_and_p_mpjpe_match_scipy_fits_per_sample_on_their_valid_joints_only():
    """References by other means than the library's closed forms: the scale by scipy's scalar minimiser of the squared
    error, the rotation by scipy's ``Rotation.align_vectors`` (a proper rotation), then its least-squares scale."""
    optimize = pytest.importorskip("scipy.optimize")
    transform = pytest.importorskip("scipy.spatial.transform")
    predicted, target, valid, _ = _poses(11)
    predicted = torch.where(valid.unsqueeze(-1), predicted, torch.nan)
    errors_scaled, errors_aligned = [], []
    for n in range(len(predicted)):
        p, t = predicted[n][valid[n]].numpy(), target[n][valid[n]].numpy()  # (V, 3): this sample's valid joints
        fit = optimize.minimize_scalar(lambda s: ((s * p - t) ** 2).sum(), bounds=(0.1, 10), method="bounded",
                                       options={"xatol": 1e-12})  # fmt: skip
        errors_scaled += np.linalg.norm(fit.x * p - t, axis=-1).tolist()
        p_centred, t_centred = p - p.mean(0), t - t.mean(0)
        rotation, _ = transform.Rotation.align_vectors(t_centred, p_centred)  # t_centred ≈ R p_centred
        rotated = rotation.apply(p_centred)
        scale = (rotated * t_centred).sum() / (rotated**2).sum()
        errors_aligned += np.linalg.norm(scale * rotated + t.mean(0) - t, axis=-1).tolist()
    assert metrics.n_mpjpe(predicted, target, valid).item() == pytest.approx(np.mean(errors_scaled), rel=1e-9)
    assert metrics.p_mpjpe(predicted, target, valid).item() == pytest.approx(np.mean(errors_aligned), rel=1e-9)
