"""A synthetic sequence written in the real formats reads back through the real loaders unchanged."""

import pytest
import torch

from weakpose_lite.data.build import build_sequence
from weakpose_lite.data.formats.export import write_sequence
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits


@pytest.fixture(scope="module")
def test_split():
    return make_synthetic_splits(SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=12))["test"]


def test_written_sequence_reads_back_through_the_panoptic_and_openpose_loaders(test_split, tmp_path):
    sequence = test_split.sequence_names[int(test_split.sequence_index[0])]
    folder = write_sequence(test_split, sequence, tmp_path)
    read = build_sequence(folder, "body")
    original = test_split.select_sequences([sequence])
    assert read.detections == "openpose"
    assert torch.equal(read.frame_ids, original.frame_ids)
    assert torch.equal(read.view_mask, original.view_mask)
    visible = original.confidence > 0
    assert torch.equal(read.confidence > 0, visible)
    assert (read.keypoints_2d - original.keypoints_2d)[visible].abs().max() < 1e-3  # px, JSON round trip
    assert (read.confidence - original.confidence).abs().max() < 1e-4
    assert torch.allclose(read.points_3d.double(), original.points_3d.double(), atol=1e-3, equal_nan=True)
    cameras = original.cameras[int(original.sequence_index[0])]
    for field in ("K", "R", "t", "dist"):
        assert torch.allclose(getattr(read.calibration.cameras, field).double(), getattr(cameras, field).double(), atol=1e-4)


def test_only_body_datasets_are_written(test_split, tmp_path):
    from dataclasses import replace

    with pytest.raises(ValueError, match="body datasets"):
        write_sequence(replace(test_split, skeleton_name="body_hands"), test_split.sequence_names[0], tmp_path)
