"""Using a trained network: one prediction path (whole or in chunks), the views' fusion (Eq. 5-6) against a loop, and
the statuses of frames that cannot be lifted."""

import math

import pytest
import torch

from weakpose_lite import inference
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.model import ModelConfig
from weakpose_lite.train import TrainConfig, build_model
from weakpose_lite.views import make_views


@pytest.fixture(scope="module")
def views():
    splits = make_synthetic_splits(SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=12))
    return make_views(splits["test"], False)


@pytest.fixture(scope="module")
def model(views):
    torch.manual_seed(0)
    return build_model(TrainConfig(model=ModelConfig(hidden=32, dropout=0.1)), views, "body").eval()


def test_prediction_is_the_network_on_each_usable_view_and_zero_elsewhere(model, views):
    with torch.no_grad():
        predicted = inference.predict(model, views)
        for f, c in [(0, 0), (3, 5), (7, 2)]:
            alone = model(views.relative_2d[f, c][None], views.visible[f, c][None])[0]
            expected = alone if views.usable[f, c] else torch.zeros_like(alone)
            torch.testing.assert_close(predicted[f, c], expected, rtol=1e-4, atol=1e-3)  # mm; float32 batched vs alone
    assert (predicted[~views.usable] == 0).all()


def test_prediction_in_chunks_equals_one_call_and_reports_every_frame(model, views):
    reported = []
    with torch.no_grad():
        whole = inference.predict(model, views)
        chunked = inference.predict(model, views, batch_size=3 * views.usable.shape[1], progress=reported.append)
    torch.testing.assert_close(chunked, whole)
    assert sum(reported) == views.usable.shape[0] and max(reported) <= 3


def test_fused_pose_is_the_mean_of_the_usable_views_in_the_world_frame_like_a_loop():
    generator = torch.Generator().manual_seed(0)
    predicted = torch.randn(3, 4, 5, 3, generator=generator, dtype=torch.float64) * 100
    R = torch.linalg.qr(torch.randn(3, 4, 3, 3, generator=generator, dtype=torch.float64)).Q
    usable = torch.tensor([[True, True, False, True], [False, True, False, False], [False] * 4])
    average, spread = inference.fuse_views(predicted, R, usable)
    for f in range(2):
        used = [c for c in range(4) if usable[f, c]]
        world = {c: [R[f, c].T @ predicted[f, c, j] for j in range(5)] for c in used}  # Eq. 5
        for j in range(5):
            mean = sum(world[c][j] for c in used) / len(used)  # Eq. 6
            torch.testing.assert_close(average[f, j], mean)
            distances = [math.dist(world[c][j].tolist(), mean.tolist()) for c in used]
            assert spread[f, j].item() == pytest.approx(sum(distances) / len(distances), abs=1e-9)
    assert (spread[1] == 0).all()  # one view: no spread to speak of
    assert torch.isnan(spread[2]).all()  # no view


def test_a_single_view_status_names_the_first_reason_it_has_no_pose():
    root = 0
    visible = torch.tensor([[True, True], [False, True], [True, False], [True, True], [False, False]])
    present = torch.tensor([True, True, True, True, False])
    usable = torch.tensor([True, False, False, False, False])  # row 3: root seen but too few joints (make_views' rule)
    status = inference.single_view_status(usable, visible, present, root)
    names = [inference.STATUSES[code] for code in status.tolist()]
    assert names == ["ok", "root_missing", "too_few_joints", "too_few_joints", "no_person"]


def test_a_multi_view_status_names_the_first_reason_a_frame_has_no_pose():
    view_mask = torch.tensor([[True, True], [True, True], [True, False], [False, False]])
    root_detected = torch.tensor([[True, True], [False, False], [True, False], [True, True]])
    fused = torch.tensor([True, False, False, False])
    names = [inference.STATUSES[code] for code in inference.multi_view_status(view_mask, root_detected, fused).tolist()]
    assert names == ["ok", "root_missing", "too_few_views", "no_person"]
