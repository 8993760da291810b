"""Tests of weakpose_lite.data.synthetic.detections against lens projection, known geometry and counted rates."""

from dataclasses import replace

import pytest
import torch

from weakpose_lite.cameras import Camera, look_at_rotation, project
from weakpose_lite.data.synthetic.body import pose_sequence, sample_subject
from weakpose_lite.data.synthetic.detections import (
    DetectionConfig,
    behind_torso,
    facing_away,
    simulate_detections,
)
from weakpose_lite.data.synthetic.motion import sample_motion
from weakpose_lite.data.synthetic.rig import panoptic_like_rig, rig_centre
from weakpose_lite.data.synthetic.seeding import child_generator
from weakpose_lite.skeleton import BODY, BODY_HANDS

WIDTH, HEIGHT = DetectionConfig().image_size


@pytest.fixture(scope="module")
def scene():
    """120 frames of two synthetic people (60 joints, world mm) in a synthetic dome of 31 cameras."""
    rig = panoptic_like_rig(child_generator(0, "rig"))
    centre = rig_centre(rig)[[0, 2]]
    poses = []
    for k in range(2):
        subject = sample_subject(f"s{k}", torch.Generator().manual_seed(k))
        motion = sample_motion(subject, 60, 29.97, torch.Generator().manual_seed(10 + k))
        poses.append(pose_sequence(subject, replace(motion, floor_position=motion.floor_position + centre)))
    points = torch.cat(poses)
    return points, rig.repeat(points.shape[0]), torch.ones(points.shape[0], 31, dtype=torch.bool)


def detect(scene, config=DetectionConfig(), seed=0, joints=18, dtype=torch.float32):
    points, cameras, views = scene
    generator = torch.Generator().manual_seed(seed)
    skeleton = BODY if joints == BODY.num_joints else BODY_HANDS
    return simulate_detections(points[:, :joints].to(dtype), cameras.to(dtype), views, generator, skeleton, config)


def test_noiseless_detections_are_the_lens_projection_of_every_joint_in_the_image(scene, dtype):
    points, cameras, views = scene
    keypoints, confidence = detect(scene, DetectionConfig.noiseless(), dtype=dtype)
    exact = project(points[:, None, :18].to(dtype), cameras.to(dtype))
    depth = cameras.to(dtype).world_to_camera(points[:, None, :18].to(dtype))[..., 2]
    in_image = (exact[..., 0] >= 0) & (exact[..., 0] < WIDTH) & (exact[..., 1] >= 0) & (exact[..., 1] < HEIGHT) & (depth > 0)
    visible = confidence > 0
    assert torch.equal(visible, in_image)
    assert torch.equal(keypoints[visible], exact[visible])
    assert keypoints.dtype == dtype


def test_detections_are_zero_with_zero_confidence_where_missing_or_view_absent(scene):
    points, cameras, views = scene
    views = views.clone()
    views[::3, ::4] = False
    keypoints, confidence = simulate_detections(points[:, :18], cameras, views, torch.Generator().manual_seed(1), BODY)
    missing = confidence == 0
    assert missing.any() and (~missing).any()
    assert (keypoints[missing] == 0).all()
    assert (confidence[~views] == 0).all()
    assert (confidence >= 0).all() and (confidence <= 1).all()


def test_every_detected_joint_lies_inside_the_image(scene):
    keypoints, confidence = detect(scene, joints=60)
    shown = keypoints[confidence > 0]
    assert ((shown[:, 0] >= 0) & (shown[:, 0] < WIDTH) & (shown[:, 1] >= 0) & (shown[:, 1] < HEIGHT)).all()


def test_missing_rate_is_realistic_and_worst_for_ears_and_ankles(scene):
    points, cameras, views = scene
    keypoints, confidence = detect(scene)
    exact = project(points[:, None, :18], cameras)
    in_image = (exact[..., 0] >= 0) & (exact[..., 0] < WIDTH) & (exact[..., 1] >= 0) & (exact[..., 1] < HEIGHT)
    missed = confidence == 0
    detector_rate = missed[in_image].float().mean()  # what the detector loses among joints it could see
    total_rate = missed.float().mean()
    print(f"missing: {100 * detector_rate:.1f} % of in-image joints, {100 * total_rate:.1f} % of all joints")
    assert 0.05 <= detector_rate <= 0.15
    assert total_rate <= 0.25  # the rest is joints out of frame: half the ankles in Panoptic's HD views
    per_joint = missed.float().mean((0, 1))
    hard = [BODY.index(name) for name in ("left_ear", "right_ear", "left_ankle", "right_ankle")]
    limbs = [BODY.index(name) for name in ("neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_elbow", "right_elbow")]
    assert per_joint[hard].min() > 2 * per_joint[limbs].max()


def test_noise_grows_with_distance_in_millimetres_and_relative_to_apparent_size():
    # one camera at the origin looking down +z; the same body placed 2, 3.5 and 6 m away (known geometry)
    K = torch.tensor([[1400.0, 0, 960], [0, 1400.0, 540], [0, 0, 1]], dtype=torch.float64)
    camera = Camera(K, torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), torch.zeros(5, dtype=torch.float64))
    subject = sample_subject("s", torch.Generator().manual_seed(0))
    body = pose_sequence(subject, sample_motion(subject, 400, 29.97, torch.Generator().manual_seed(1)))[:, :18].double()
    body = body - body[:, 1:2]  # neck at the origin
    config = replace(DetectionConfig.noiseless(), noise_floor_px=2.0, noise_relative=0.004)
    errors_mm, errors_relative = [], []
    for depth in (2000.0, 3500.0, 6000.0):
        points = body + torch.tensor([0.0, 0.0, depth], dtype=torch.float64)
        cameras = Camera(*(getattr(camera, f).expand(400, 1, *getattr(camera, f).shape) for f in ("K", "R", "t", "dist")))
        keypoints, confidence = simulate_detections(
            points, cameras, torch.ones(400, 1, dtype=torch.bool), torch.Generator().manual_seed(2), BODY, config
        )
        exact = project(points[:, None], cameras)
        seen = confidence > 0
        error_px = (keypoints - exact).norm(dim=-1)[seen].mean()
        errors_mm.append(float(error_px * depth / 1400.0))
        errors_relative.append(float(error_px / (1400.0 * 1800.0 / depth)))
    print("error at 2, 3.5, 6 m:", [f"{e:.1f} mm" for e in errors_mm], [f"{100 * e:.2f} % of height" for e in errors_relative])
    assert errors_mm[0] < errors_mm[1] < errors_mm[2]
    assert errors_relative[0] < errors_relative[1] < errors_relative[2]


def test_confidence_falls_as_the_error_grows(scene):
    points, cameras, views = scene
    keypoints, confidence = detect(scene, replace(DetectionConfig(), gross_error_rate=0.0))
    exact = project(points[:, None, :18], cameras)
    seen = confidence > 0
    error, score = (keypoints - exact).norm(dim=-1)[seen], confidence[seen]
    # Spearman rank correlation, computed by hand
    rank_error, rank_score = error.argsort().argsort().double(), score.argsort().argsort().double()
    correlation = torch.corrcoef(torch.stack([rank_error, rank_score]))[0, 1]
    assert correlation < -0.3
    small, large = error < error.quantile(0.5), error > error.quantile(0.95)
    assert score[small].mean() > score[large].mean() + 0.2


def test_gross_errors_swap_or_snap_limbs_in_about_the_configured_share_of_views(scene):
    points, cameras, views = scene
    config = replace(DetectionConfig.noiseless(), gross_error_rate=0.1)
    keypoints, confidence = detect(scene, config, seed=5)
    exact = project(points[:, None, :18], cameras)
    wrong = ((keypoints - exact).norm(dim=-1) * (confidence > 0)).amax(-1) > 1.0  # (F, C) views with a moved joint
    share = wrong.float().mean()
    assert 0.05 < share < 0.12  # binomial around 0.1, less the errors that fell outside the image or on a hidden limb
    # a swap puts the right elbow exactly where the left elbow projects
    left, right = BODY.index("left_elbow"), BODY.index("right_elbow")
    swapped = (keypoints[..., right, :] - exact[..., left, :]).norm(dim=-1) < 1e-3
    swapped &= (confidence[..., right] > 0) & ((exact[..., left, :] - exact[..., right, :]).norm(dim=-1) > 10)
    assert swapped.any()


def test_unknown_joints_are_missing(scene):
    points, cameras, views = scene
    points = points[:, :18].clone()
    points[:, BODY.index("left_wrist")] = float("nan")
    keypoints, confidence = simulate_detections(points, cameras, views, torch.Generator().manual_seed(0), BODY)
    assert (confidence[..., BODY.index("left_wrist")] == 0).all()
    assert torch.isfinite(keypoints).all()


def test_face_is_hidden_from_behind_and_seen_from_the_front():
    points = torch.zeros(2, 18, 3, dtype=torch.float64)
    # a head 3 m in front of the camera; looking at the camera (frame 0) or away from it (frame 1)
    for frame, facing in ((0, -1.0), (1, 1.0)):
        head = torch.tensor([0.0, 0.0, 3000.0], dtype=torch.float64)
        points[frame, BODY.index("left_ear")] = head + torch.tensor([80.0, 0, 0], dtype=torch.float64)
        points[frame, BODY.index("right_ear")] = head - torch.tensor([80.0, 0, 0], dtype=torch.float64)
        for name, sideways in (("nose", 0.0), ("left_eye", 30.0), ("right_eye", -30.0)):
            points[frame, BODY.index(name)] = head + torch.tensor([sideways, 0, 100 * facing], dtype=torch.float64)
    hidden = facing_away(points, BODY)
    face = [BODY.index(name) for name in ("nose", "left_eye", "right_eye")]
    assert not hidden[0, face].any() and hidden[1, face].all()
    assert not hidden[:, BODY.index("neck")].any()


def test_a_hand_in_front_of_the_chest_is_hidden_only_from_behind():
    body = torch.zeros(18, 3, dtype=torch.float64)
    for name, (x, y) in {"left_shoulder": (180, -1450), "right_shoulder": (-180, -1450), "left_hip": (100, -950), "right_hip": (-100, -950)}.items():
        body[BODY.index(name)] = torch.tensor([x, y, 0.0])
    body[BODY.index("left_wrist")] = torch.tensor([0.0, -1200, 250])  # 25 cm in front of the chest (+z)
    hidden = []
    for camera_z in (3000.0, -3000.0):  # in front of the person, then behind
        centre = torch.tensor([0.0, -1200, camera_z], dtype=torch.float64)
        R = look_at_rotation(centre, torch.tensor([0.0, -1200, 0], dtype=torch.float64), torch.tensor([0.0, -1.0, 0], dtype=torch.float64))
        hidden.append(behind_torso(body @ R.T - centre @ R.T, BODY)[BODY.index("left_wrist")])
    assert hidden == [torch.tensor(False), torch.tensor(True)]


def test_same_generator_seed_same_detections_other_seed_others(scene):
    first, first_confidence = detect(scene, seed=3, joints=60)
    again, again_confidence = detect(scene, seed=3, joints=60)
    other, _ = detect(scene, seed=4, joints=60)
    assert torch.equal(first, again) and torch.equal(first_confidence, again_confidence)
    assert not torch.equal(first, other)
