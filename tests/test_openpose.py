"""OpenPose JSON: COCO-18 and BODY_25 mapped by joint name, hands, missing joints, per-view folders of a sequence."""

import json
import warnings

import pytest
import torch

from weakpose_lite.cameras import Camera
from weakpose_lite.data.formats import openpose
from weakpose_lite.data.formats.panoptic import Calibration
from weakpose_lite.skeleton import BODY25, BODY_HANDS, COCO18


def _value_of(name: str) -> list[float]:
    """A distinct (x, y, c) per joint name, so any mix-up of joints shows."""
    k = (sorted(BODY25).index(name) + 1) if name in BODY25 else 0
    return [10.0 * k + 0.5, 1000.0 - 7 * k, 0.01 * k + 0.3]


def _write(path, person: dict) -> None:
    path.write_text(json.dumps({"version": 1.3, "people": [person]}))


@pytest.mark.parametrize("field", ["pose_keypoints_2d", "pose_keypoints"])
@pytest.mark.parametrize("layout", [BODY25, COCO18], ids=["BODY_25", "COCO"])
def test_body_layouts_map_to_coco18_by_joint_name(tmp_path, layout, field):
    _write(tmp_path / "a_keypoints.json", {field: [v for name in layout for v in _value_of(name)]})
    people = openpose.read_openpose(tmp_path / "a_keypoints.json", dtype=torch.float64)
    expected = torch.tensor([_value_of(name) for name in COCO18], dtype=torch.float64)
    assert people.keypoints.shape == (1, 18, 2)
    assert torch.allclose(people.keypoints[0], expected[:, :2])
    assert torch.allclose(people.confidence[0], expected[:, 2])


def test_missing_joint_zeros_read_as_confidence_zero_and_zero_coordinates(tmp_path):
    values = [v for name in COCO18 for v in _value_of(name)]
    values[3 * COCO18.index("left_wrist") : 3 * COCO18.index("left_wrist") + 3] = [0, 0, 0]
    values[3 * COCO18.index("nose") + 2] = 0  # a coordinate with zero confidence is still missing
    _write(tmp_path / "a_keypoints.json", {"pose_keypoints_2d": values})
    people = openpose.read_openpose(tmp_path / "a_keypoints.json")
    missing = [COCO18.index("left_wrist"), COCO18.index("nose")]
    assert (people.confidence[0, missing] == 0).all() and (people.keypoints[0, missing] == 0).all()
    assert (people.confidence[0] > 0).sum() == 16


def test_hands_follow_the_body_left_then_right_and_empty_hands_are_missing(tmp_path):
    body = [v for name in COCO18 for v in _value_of(name)]
    left = [float(v) for k in range(21) for v in (k + 1, 2 * k + 1, 0.5)]
    _write(tmp_path / "a_keypoints.json", {"pose_keypoints_2d": body, "hand_left_keypoints_2d": left,
                                           "hand_right_keypoints_2d": []})  # fmt: skip
    people = openpose.read_openpose(tmp_path / "a_keypoints.json", hands=True, dtype=torch.float64)
    assert people.keypoints.shape == (1, len(BODY_HANDS.joints), 2)
    left_wrist = BODY_HANDS.index("left_hand_wrist")
    assert torch.allclose(people.keypoints[0, left_wrist : left_wrist + 21].reshape(-1),
                          torch.tensor(left, dtype=torch.float64).reshape(21, 3)[:, :2].reshape(-1))  # fmt: skip
    assert (people.confidence[0, BODY_HANDS.index("right_hand_wrist") :] == 0).all()


def test_file_with_nobody_reads_as_zero_people(tmp_path):
    (tmp_path / "a_keypoints.json").write_text(json.dumps({"version": 1.3, "people": []}))
    people = openpose.read_openpose(tmp_path / "a_keypoints.json")
    assert people.keypoints.shape == (0, 18, 2) and people.confidence.shape == (0, 18)


def _detections(people: int, joints: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(people, joints, 2, generator=generator, dtype=torch.float64) * torch.tensor([1920, 1080])
    confidence = torch.rand(people, joints, generator=generator, dtype=torch.float64) * 0.9 + 0.1
    confidence[0, 3] = 0
    keypoints[0, 3] = 0
    return keypoints, confidence


@pytest.mark.parametrize("model_pose", ["COCO", "BODY_25"])
@pytest.mark.parametrize("joints", [18, 60], ids=["body", "body_hands"])
def test_write_read_round_trip(tmp_path, model_pose, joints):
    keypoints, confidence = _detections(people=2, joints=joints)
    openpose.write_openpose(tmp_path / "a_keypoints.json", keypoints, confidence, model_pose)
    people = openpose.read_openpose(tmp_path / "a_keypoints.json", hands=joints == 60, dtype=torch.float64)
    assert torch.allclose(people.keypoints, keypoints) and torch.allclose(people.confidence, confidence)


def test_body25_writer_places_joints_by_name_and_mid_hip_between_the_hips(tmp_path):
    keypoints, confidence = _detections(people=1, joints=18)
    openpose.write_openpose(tmp_path / "a_keypoints.json", keypoints, confidence, "BODY_25")
    values = json.loads((tmp_path / "a_keypoints.json").read_text())["people"][0]["pose_keypoints_2d"]
    rows = torch.tensor(values, dtype=torch.float64).reshape(25, 3)
    for name in ("right_hip", "left_knee", "right_ear"):
        assert torch.allclose(rows[BODY25.index(name), :2], keypoints[0, COCO18.index(name)])
    hips = keypoints[0, [COCO18.index("left_hip"), COCO18.index("right_hip")]]
    assert torch.allclose(rows[BODY25.index("mid_hip"), :2], hips.mean(0))
    assert (rows[BODY25.index("left_heel")] == 0).all()


def _calibration(views: int) -> Calibration:
    K = torch.tensor([[1500.0, 0, 960], [0, 1500, 540], [0, 0, 1]]).expand(views, 3, 3)
    cameras = Camera(K, torch.eye(3).expand(views, 3, 3), torch.zeros(views, 3), torch.zeros(views, 5))
    return Calibration(cameras, tuple(f"00_{c:02d}" for c in range(views)), torch.tensor([[1920, 1080]] * views))


def test_view_folder_layout_uses_the_video_name_and_12_digit_frames(tmp_path):
    path = openpose.keypoints_file(tmp_path, "00_03", 150)
    assert path.relative_to(tmp_path).as_posix() == "hd_00_03/hd_00_03_000000000150_keypoints.json"
    (tmp_path / "hd_00_03").mkdir()
    path.write_text("{}")
    (tmp_path / "hd_00_03" / "00_03_00000151_keypoints.json").write_text("{}")  # run on extracted images instead
    assert list(openpose.view_frames(tmp_path / "hd_00_03")) == [150, 151]


def test_views_round_trip_and_frames_with_one_view_are_dropped_and_counted(tmp_path):
    frames, views, joints = 4, 3, 18
    keypoints, confidence = _detections(frames * views, joints, seed=2)
    keypoints, confidence = keypoints.reshape(frames, views, joints, 2), confidence.reshape(frames, views, joints)
    view_mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=torch.bool)
    frame_ids = torch.tensor([10, 11, 12, 13])
    calibration = _calibration(views)
    openpose.write_openpose_views(tmp_path, calibration.names, frame_ids, keypoints, confidence, view_mask)
    with pytest.warns(UserWarning, match="dropped 2 of 4 frames seen by fewer than 2 views"):
        found = openpose.read_openpose_views(tmp_path, calibration, frame_ids, dtype=torch.float64)
    kept = torch.tensor([0, 2])
    assert found.frame_ids.tolist() == [10, 12] and found.dropped_frame_ids.tolist() == [11, 13]
    assert torch.equal(found.view_mask, view_mask[kept])
    present = view_mask[kept]
    assert torch.allclose(found.keypoints[present], keypoints[kept][present])
    assert torch.allclose(found.confidence[present], confidence[kept][present])
    assert (found.confidence[~present] == 0).all() and (found.keypoints[~present] == 0).all()


def test_views_strict_mode_refuses_a_frame_with_one_view(tmp_path):
    keypoints, confidence = _detections(2, 18)
    calibration = _calibration(2)
    view_mask = torch.tensor([[True, False]])
    openpose.write_openpose_views(tmp_path, calibration.names, torch.tensor([5]), keypoints[None], confidence[None],
                                  view_mask)  # fmt: skip
    with pytest.raises(ValueError, match="frame 5 has 1 view"):
        openpose.read_openpose_views(tmp_path, calibration, strict=True)


def test_views_take_the_most_confident_person_of_an_image(tmp_path):
    keypoints, confidence = _detections(2, 18, seed=3)
    confidence[1] = 0.05  # the second person is a faint passer-by
    calibration = _calibration(2)
    for name in calibration.names:
        openpose.write_openpose(openpose.keypoints_file(tmp_path, name, 0), keypoints.flip(0), confidence.flip(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = openpose.read_openpose_views(tmp_path, calibration, dtype=torch.float64)
    assert torch.allclose(found.keypoints[0, 0], keypoints[0]) and torch.allclose(found.keypoints[0, 1], keypoints[0])


# ---- coordinates no camera produces are refused, not read as joints ------------------------------------------------


def _body(layout=COCO18) -> list[float]:
    return [v for name in layout for v in _value_of(name)]


@pytest.mark.parametrize(
    "field, layout, index, value",
    [
        ("pose_keypoints_2d", COCO18, 3, 1e7),
        ("pose_keypoints_2d", COCO18, 4, -100000.5),
        ("pose_keypoints_2d", BODY25, 72, 2e5),
        ("pose_keypoints", COCO18, 51, -1e9),
        ("pose_keypoints_2d", COCO18, 0, 1e7),
    ],
    ids=["x 1e7", "y just beyond", "BODY_25 last joint", "old field name", "even at confidence 0"],
)
def test_a_coordinate_beyond_the_limit_is_refused_naming_its_index_in_the_file(tmp_path, field, layout, index, value):
    values = _body(layout)
    values[index] = value
    if index == 0:
        values[2] = 0.0  # not found: the file is corrupt all the same
    _write(tmp_path / "a_keypoints.json", {field: values})
    expected = rf"^a_keypoints.json: people\[0\].{field}\[{index}\] must be within ±100000 px, got {value:g}"
    with pytest.raises(ValueError, match=expected.replace("+", r"\+")):
        openpose.read_openpose(tmp_path / "a_keypoints.json")


def test_a_hand_coordinate_beyond_the_limit_is_refused(tmp_path):
    right = [float(v) for k in range(21) for v in (k + 1, 2 * k + 1, 0.5)]
    right[31] = 3e5
    _write(tmp_path / "a_keypoints.json", {"pose_keypoints_2d": _body(), "hand_left_keypoints_2d": [],
                                           "hand_right_keypoints_2d": right})  # fmt: skip
    with pytest.raises(ValueError, match=r"people\[0\].hand_right_keypoints_2d\[31\] must be within ±100000 px"):
        openpose.read_openpose(tmp_path / "a_keypoints.json", hands=True)


def test_coordinates_at_the_limit_and_far_outside_the_image_are_read(tmp_path):
    values = _body()
    values[0], values[1] = 1e5, -1e5  # far outside any image, but within the rule: kept as detected
    _write(tmp_path / "a_keypoints.json", {"pose_keypoints_2d": values})
    people = openpose.read_openpose(tmp_path / "a_keypoints.json", dtype=torch.float64)
    assert people.keypoints[0, 0].tolist() == [1e5, -1e5]


def test_a_confidence_too_large_for_float32_is_refused(tmp_path):
    values = _body()
    values[5] = 1e39
    _write(tmp_path / "a_keypoints.json", {"pose_keypoints_2d": values})
    expected = r"pose_keypoints_2d\[5\] must be finite in float32 \(\|x\| ≤ 3.4e38\), got 1e\+39"
    with pytest.raises(ValueError, match=expected):
        openpose.read_openpose(tmp_path / "a_keypoints.json")
