"""Tests of weakpose_lite.data.synthetic: the rig against Panoptic's measured geometry, splits, caching, presets."""

import time
from dataclasses import replace

import pytest
import torch

from weakpose_lite.cameras import Camera, look_at_rotation, project
from weakpose_lite.data import synthetic
from weakpose_lite.data.dataset import SPLITS
from weakpose_lite.data.synthetic import (
    SyntheticConfig,
    assign_subjects,
    load_or_make_synthetic,
    make_synthetic_splits,
    sample_view_masks,
    synthetic_folder,
)
from weakpose_lite.data.synthetic.detections import DetectionConfig
from weakpose_lite.data.synthetic.rig import DOME_CENTRE_MM, panoptic_like_rig, rig_centre
from weakpose_lite.data.synthetic.seeding import child_generator
from weakpose_lite.skeleton import BODY_HANDS

SMALL = SyntheticConfig.tiny(num_subjects=3, frames_per_sequence=20)


@pytest.fixture(scope="module")
def rig() -> Camera:
    return panoptic_like_rig(child_generator(0, "rig")).to(torch.float64)


@pytest.fixture(scope="module")
def tiny():
    start = time.perf_counter()
    splits = make_synthetic_splits(SyntheticConfig.tiny())
    print(f"\ntiny preset generated in {time.perf_counter() - start:.2f} s")
    for split in SPLITS:
        print(splits[split].summary())
    return splits


def test_rig_rotations_are_orthonormal_with_determinant_one(rig):
    identity = torch.eye(3, dtype=torch.float64).expand_as(rig.R)
    assert torch.allclose(rig.R @ rig.R.transpose(-1, -2), identity, atol=1e-6)
    assert torch.allclose(torch.linalg.det(rig.R), torch.ones(31, dtype=torch.float64), atol=1e-6)


def test_rig_matches_panoptic_hd_geometry_and_lenses(rig):
    centre = rig.center
    assert rig.t.shape == (31, 3)
    assert (centre[:, 1] >= -3450).all() and (centre[:, 1] <= -700).all()  # world y down: 0.7-3.45 m up
    horizontal = centre[:, [0, 2]].norm(dim=-1)
    assert (horizontal > 1700).all() and (horizontal < 2850).all() and 2300 < horizontal.mean() < 2600
    focal = rig.K[:, 0, 0]
    assert (focal >= 1393).all() and (focal <= 1862).all()
    assert ((rig.K[:, :2, 2] - torch.tensor([960.0, 540.0], dtype=torch.float64)).abs() < 40).all()
    k1, k2, p1, p2, k3 = rig.dist.unbind(-1)
    assert (k1 >= -0.35).all() and (k1 <= -0.15).all() and (k2 >= 0.1).all() and (k2 <= 0.25).all()
    assert (p1.abs() < 3e-3).all() and (p2.abs() < 3e-3).all() and (k3.abs() < 0.1).all()


def test_every_camera_sees_the_volume_centre_inside_its_image(rig):
    pixels = project(torch.tensor([DOME_CENTRE_MM], dtype=torch.float64), rig)[:, 0]
    depth = rig.world_to_camera(torch.tensor([DOME_CENTRE_MM], dtype=torch.float64))[:, 0, 2]
    assert (depth > 0).all()
    assert ((pixels[:, 0] > 200) & (pixels[:, 0] < 1720) & (pixels[:, 1] > 150) & (pixels[:, 1] < 930)).all()


def test_lens_distortion_moves_joints_as_much_as_panoptic_lenses(rig, tiny):
    points = tiny["train"].points_3d[::10].double()
    distorted = project(points[:, None], rig)
    ideal = project(points[:, None], rig, with_distortion=False)
    inside = ((distorted[..., 0] >= 0) & (distorted[..., 0] < 1920) & (distorted[..., 1] >= 0) & (distorted[..., 1] < 1080))
    shift = ((distorted - ideal).norm(dim=-1) * inside).amax((0, 2))  # (C,) largest shift of a visible joint
    print(f"\ndistortion shift per camera: median of maxima {shift.median():.0f} px, largest {shift.max():.0f} px")
    assert 15 < shift.median() < 70 and shift.max() < 130  # real HD: median 37 px, largest 85 px


def test_rig_centre_is_where_the_optical_axes_meet():
    generator = torch.Generator().manual_seed(0)
    target = torch.tensor([120.0, -1400.0, -60.0], dtype=torch.float64)
    positions = 2500 * torch.nn.functional.normalize(torch.randn(8, 3, generator=generator, dtype=torch.float64), dim=-1)
    R = look_at_rotation(positions, target, torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64))
    cameras = Camera(torch.eye(3, dtype=torch.float64).expand(8, 3, 3), R, -(R @ positions[..., None])[..., 0], torch.zeros(8, 5, dtype=torch.float64))
    assert torch.allclose(rig_centre(cameras), target, atol=1e-6)


def test_view_counts_stay_between_18_and_31_and_are_mostly_31():
    config = SyntheticConfig()
    masks = torch.cat([sample_view_masks(300, 31, child_generator(0, "views", k), config) for k in range(40)])
    views = masks.sum(-1)
    assert views.min() >= 18 and views.max() == 31
    assert (views == 31).float().mean() > 0.5
    assert (views < 28).any()


def test_splits_are_disjoint_by_subject_and_sequence_about_80_10_10(tiny):
    counts = {split: len(subjects) for split, subjects in assign_subjects(SyntheticConfig()).items()}
    assert counts == {"train": 42, "validation": 5, "test": 5}
    sized = {split: len(subjects) for split, subjects in assign_subjects(SyntheticConfig.panoptic_sized()).items()}
    assert sized == {"train": 40, "validation": 6, "test": 6}  # Table 1
    subjects = {split: set(tiny[split].subject_names) for split in SPLITS}
    sequences = {split: set(tiny[split].sequence_names) for split in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            if a != b:
                assert not subjects[a] & subjects[b] and not sequences[a] & sequences[b]
    frames = {split: tiny[split].num_frames for split in SPLITS}
    total = sum(frames.values())
    assert frames["train"] / total == pytest.approx(0.8) and frames["test"] / total == pytest.approx(0.1)
    for split in SPLITS:
        dataset = tiny[split]
        # each sequence belongs to one subject and holds consecutive frames 0..T-1
        for sequence in dataset.sequence_index.unique():
            rows = dataset.sequence_index == sequence
            assert dataset.subject_index[rows].unique().numel() == 1
            assert torch.equal(dataset.frame_ids[rows], torch.arange(int(rows.sum())))


def test_tiny_preset_is_ci_sized_with_views_masks_and_metadata(tiny):
    total = sum(tiny[split].num_frames for split in SPLITS)
    assert 1000 <= total <= 3000
    train = tiny["train"]
    assert train.keypoints_2d.shape == (train.num_frames, 31, 18, 2) and train.keypoints_2d.dtype == torch.float32
    views = train.view_mask.sum(-1)
    assert views.min() >= 18 and views.max() <= 31
    assert train.metadata["detections"] == "simulated" and train.metadata["rig"] == "synthetic"
    assert train.metadata["split"] == "train" and train.metadata["config"]["num_subjects"] == 10
    assert train.has_groundtruth.all()


def test_same_seed_gives_identical_tensors_another_seed_others():
    first, again = make_synthetic_splits(SMALL), make_synthetic_splits(SMALL)
    other = make_synthetic_splits(replace(SMALL, seed=1))
    for name in ("keypoints_2d", "confidence", "view_mask", "points_3d"):
        assert torch.equal(getattr(first["train"], name), getattr(again["train"], name))
    assert torch.equal(first["train"].cameras.R, again["train"].cameras.R)
    assert not torch.equal(first["train"].points_3d, other["train"].points_3d)
    assert not torch.equal(first["train"].cameras.R, other["train"].cameras.R)


def test_body_hands_preset_has_60_joints_with_hands_at_the_wrists():
    splits = make_synthetic_splits(replace(SMALL, skeleton="body_hands"))
    train = splits["train"]
    assert train.keypoints_2d.shape[-2:] == (60, 2) and train.points_3d.shape[-2:] == (60, 3)
    for side in ("left", "right"):
        gap = train.points_3d[:, BODY_HANDS.index(f"{side}_wrist")] - train.points_3d[:, BODY_HANDS.index(f"{side}_hand_wrist")]
        assert gap.norm(dim=-1).max() < 30


def test_a_given_rig_films_the_people_under_its_centre(hd_cameras):
    splits = make_synthetic_splits(SMALL, rig=hd_cameras)
    train = splits["train"]
    assert train.metadata["rig"] == "given"
    assert torch.allclose(train.cameras.R[0].double(), hd_cameras.R, atol=1e-6)
    centre = rig_centre(hd_cameras)
    neck = train.points_3d[:, 1].double()
    assert (neck[:, [0, 2]] - centre[[0, 2]]).norm(dim=-1).max() < 1200
    assert train.visible.float().mean() > 0.6
    with pytest.raises(ValueError, match="one row of cameras"):
        make_synthetic_splits(SMALL, rig=hd_cameras[None])


def test_load_or_make_caches_by_config_hash(tmp_path, monkeypatch):
    made = load_or_make_synthetic(SMALL, tmp_path)
    folder = synthetic_folder(SMALL, tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == ["test.npz", "train.npz", "validation.npz"]
    assert folder.name.startswith(SMALL.name + "-")

    def must_not_regenerate(*args, **kwargs):
        raise AssertionError("the cached splits should have been loaded")

    monkeypatch.setattr(synthetic, "make_synthetic_splits", must_not_regenerate)
    loaded = load_or_make_synthetic(SMALL, tmp_path)
    for split in SPLITS:
        assert torch.equal(loaded[split].keypoints_2d, made[split].keypoints_2d)
        assert loaded[split].metadata == made[split].metadata
    assert synthetic_folder(replace(SMALL, seed=7), tmp_path) != folder
    assert synthetic_folder(replace(SMALL, detections=DetectionConfig.noiseless()), tmp_path) != folder


def test_config_rejects_too_few_subjects_and_unknown_skeletons():
    with pytest.raises(ValueError, match="num_subjects"):
        assign_subjects(replace(SMALL, num_subjects=2))
    with pytest.raises(ValueError, match="unknown skeleton"):
        make_synthetic_splits(replace(SMALL, skeleton="hands"))
