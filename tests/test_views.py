"""The views layer: what the network and the losses read, checked against plain loops and OpenCV."""

import cv2
import numpy as np
import pytest
import torch

from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.views import make_views


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_splits(SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=12))["test"]


@pytest.mark.parametrize("min_visible_joints", [1, 6, 14])
def test_a_view_is_usable_when_present_with_its_root_and_enough_joints_detected_like_a_loop(dataset, min_visible_joints):
    views = make_views(dataset, False, min_visible_joints)
    confidence, present, root = dataset.confidence.tolist(), dataset.view_mask.tolist(), dataset.skeleton.root
    for f, frame in enumerate(confidence):
        for c, joints in enumerate(frame):
            detected = [score > 0 for score in joints]
            expected = present[f][c] and detected[root] and sum(detected) >= min_visible_joints
            assert bool(views.usable[f, c]) == expected, (f, c)


def test_confidence_is_the_detectors_where_a_joint_is_visible_and_zero_elsewhere(dataset):
    views = make_views(dataset, False)
    assert torch.equal(views.confidence[views.visible], dataset.confidence[views.visible])
    assert views.visible.any() and (views.confidence[views.visible] > 0).all() and (views.confidence[~views.visible] == 0).all()


def test_trainable_frames_have_a_triangulated_root_and_two_usable_views(dataset):
    views = make_views(dataset, False)
    expected = [f for f in range(dataset.num_frames) if views.root_valid[f] and int(views.usable[f].sum()) >= 2]
    assert views.trainable_frames.tolist() == expected


def test_inputs_are_root_relative_undistorted_normalised_points_that_opencv_distorts_back_to_the_detections(dataset):
    views = make_views(dataset, False)
    cameras, root = dataset.frame_cameras(), dataset.skeleton.root
    for f in range(0, dataset.num_frames, 5):
        for c in torch.nonzero(views.usable[f]).squeeze(-1).tolist()[:4]:
            K, dist = cameras.K[f, c].double().numpy(), cameras.dist[f, c].double().numpy()
            ideal = views.pixels[f, c].double().numpy()  # the undistorted detections, an ideal pinhole's pixels
            normalised = (ideal - K[:2, 2]) / np.diag(K)[:2]  # K has no skew here
            rays = np.concatenate([normalised, np.ones((len(normalised), 1))], 1)
            detected, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, dist)
            visible = views.visible[f, c].numpy()
            np.testing.assert_allclose(detected.reshape(-1, 2)[visible], dataset.keypoints_2d[f, c].numpy()[visible], atol=1e-3)
            expected = np.where(visible[:, None], normalised - normalised[root], 0.0)
            np.testing.assert_allclose(views.relative_2d[f, c].double().numpy(), expected, atol=1e-6)


def test_root_depth_is_the_triangulated_roots_depth_in_each_camera(dataset):
    views = make_views(dataset, False)
    cameras = dataset.frame_cameras()
    for f in range(0, dataset.num_frames, 7):
        for c in range(dataset.num_views):
            R, t, root = cameras.R[f, c].tolist(), cameras.t[f, c].tolist(), views.root_world[f].tolist()
            depth = sum(R[2][k] * root[k] for k in range(3)) + t[2]
            assert views.root_depth[f, c].item() == pytest.approx(depth, rel=1e-5)


def test_a_batch_index_picks_each_frames_views_and_its_per_frame_fields(dataset):
    views = make_views(dataset, True)
    frames = torch.tensor([3, 0, 7])
    view_ids = torch.tensor([[1, 4], [0, 2], [5, 5]])
    batch = views[frames, view_ids]
    assert batch.relative_2d.shape[:2] == (3, 2) and batch.root_world.shape == (3, 3)
    for b, f in enumerate(frames.tolist()):
        assert torch.equal(batch.root_world[b], views.root_world[f])
        assert torch.equal(batch.target_valid[b], views.target_valid[f])
        for v, c in enumerate(view_ids[b].tolist()):
            assert torch.equal(batch.pixels[b, v], views.pixels[f, c]) and batch.usable[b, v] == views.usable[f, c]
            assert torch.equal(batch.cameras.R[b, v], views.cameras.R[f, c])
            assert torch.equal(batch.targets[b, v], views.targets[f, c])
    every_view = views[frames]
    assert torch.equal(every_view.visible, views.visible[frames])


def test_groundtruth_is_carried_for_evaluation_only_when_the_dataset_has_any(dataset):
    assert make_views(dataset, False).truth is not None
    blind = make_views(dataset.without_groundtruth(), False)
    assert blind.truth is None and blind.truth_valid is None
