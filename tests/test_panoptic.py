"""CMU Panoptic readers and writers: real staged files (skipped when absent) and write -> read round trips."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import PANOPTIC

from weakpose_lite.cameras import Camera, project
from weakpose_lite.data.formats import panoptic
from weakpose_lite.data.formats.panoptic import Calibration
from weakpose_lite.skeleton import COCO18, HAND21, PANOPTIC_COCO19

REAL = PANOPTIC  # the real samples (conftest: <repo>/../shared)
BAND1 = REAL / "160906_band1"
BAND2 = REAL / "160906_band2"
SECOND_RIG = REAL / "calib_160422_hd31" / "camera_parameters.json"
# COCO-18 as indices into joints19, as listed in PANOPTIC_FORMATS.md (checked there on the real files).
COCO18_IN_JOINTS19 = [1, 0, 9, 10, 11, 3, 4, 5, 12, 13, 14, 6, 7, 8, 17, 15, 18, 16]

needs_real = pytest.mark.skipif(not BAND1.is_dir(), reason=f"real Panoptic samples not staged at {REAL}")


def _raw_hd_cameras(path: Path) -> list[dict]:
    return [camera for camera in json.loads(path.read_text())["cameras"] if camera["type"] == "hd"]


def _raw_bodies(folder: Path) -> dict[int, list[dict]]:
    """Frame -> bodies straight from the JSON, for comparing the loader against."""
    return {int(path.stem[-8:]): json.loads(path.read_text())["bodies"]
            for path in sorted((folder / "hdPose3d_stage1_coco19").glob("body3DScene_*.json"))}  # fmt: skip


@needs_real
def test_real_calibration_has_31_hd_cameras_sorted_by_node_with_rotations():
    calibration = panoptic.read_calibration(BAND1 / "calibration_160906_band1.json", dtype=torch.float64)
    assert calibration.names == tuple(f"00_{node:02d}" for node in range(31))
    R = calibration.cameras.R
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(31, 3, 3), atol=1e-8)
    assert torch.allclose(torch.linalg.det(R), torch.ones(31, dtype=torch.float64), atol=1e-8)
    assert (calibration.image_sizes == torch.tensor([1920, 1080])).all()


@needs_real
@pytest.mark.parametrize("path", [BAND1 / "calibration_160906_band1.json", SECOND_RIG], ids=["160906", "160422"])
def test_real_camera_centres_are_metres_from_the_origin_in_millimetres(path):
    calibration = panoptic.read_calibration(path, dtype=torch.float64)
    raw = _raw_hd_cameras(path)
    expected_cm = [-np.array(camera["R"]).T @ np.array(camera["t"]).reshape(3) for camera in raw]
    order = np.argsort([camera["node"] for camera in raw])
    assert torch.allclose(calibration.cameras.center, 10 * torch.tensor(np.array(expected_cm)[order]), atol=1e-6)
    distance = calibration.cameras.center.norm(dim=-1)
    # Measured on both rigs: 2.78-3.89 m from the origin, y (down) from -3.40 to -0.74 m.
    assert distance.min() > 2500 and distance.max() < 4000
    assert (calibration.cameras.center[:, 1] < -500).all() and (calibration.cameras.center[:, 1] > -3500).all()


@needs_real
def test_real_vga_cameras_load_on_request():
    calibration = panoptic.read_calibration(BAND1 / "calibration_160906_band1.json", camera_type="vga")
    assert len(calibration.names) == 479
    assert (calibration.image_sizes == torch.tensor([640, 480])).all()


@needs_real
def test_real_bodies_map_joints19_to_coco18_by_the_documented_indices_in_mm():
    raw = _raw_bodies(BAND1)
    for frame, bodies in list(raw.items())[:3]:
        loaded = panoptic.read_bodies(panoptic.body_file(BAND1, frame), dtype=torch.float64)
        assert loaded.ids == tuple(body["id"] for body in bodies)
        for p, body in enumerate(bodies):
            for j, source in enumerate(COCO18_IN_JOINTS19):
                x, y, z, c = body["joints19"][4 * source : 4 * source + 4]
                assert loaded.confidence[p, j].item() == c
                if (x, y, z, c) == (0, 0, 0, -1):
                    assert torch.isnan(loaded.points[p, j]).all()
                else:
                    assert torch.allclose(loaded.points[p, j], torch.tensor([x, y, z], dtype=torch.float64) * 10)


@needs_real
def test_real_missing_joints_become_nan():
    markers = sum(body["joints19"][4 * j : 4 * j + 4] == [0, 0, 0, -1]
                  for bodies in _raw_bodies(BAND1).values() for body in bodies for j in range(19))  # fmt: skip
    nans = sum(int(torch.isnan(panoptic.read_bodies(path, PANOPTIC_COCO19).points).any(-1).sum())
               for path in panoptic.body_frames(BAND1).values())  # fmt: skip
    assert markers > 0 and nans == markers


@needs_real
def test_real_neck_is_shoulder_midpoint_and_body_center_is_hip_midpoint():
    points = torch.cat([panoptic.read_bodies(path, PANOPTIC_COCO19, torch.float64).points
                        for folder in (BAND1, BAND2) for path in panoptic.body_frames(folder).values()])  # fmt: skip

    def gaps(joint: str, left: str, right: str) -> torch.Tensor:
        index = PANOPTIC_COCO19.index
        gap = (points[:, index(joint)] - (points[:, index(left)] + points[:, index(right)]) / 2).norm(dim=-1)
        return gap[torch.isfinite(gap)]

    # PANOPTIC_FORMATS.md: 0.8 cm and 0.3 cm off on average. Measured here on the 120 bodies, in mm: neck mean 8.2;
    # BodyCenter median 0.0007 (exact up to print rounding) and mean 4.1, from a few bodies with a stray hip.
    neck, center = gaps("neck", "left_shoulder", "right_shoulder"), gaps("body_center", "left_hip", "right_hip")
    assert len(neck) > 100 and len(center) > 100
    assert neck.mean() < 12
    assert center.median() < 0.01 and center.mean() < 6


@needs_real
def test_real_joints_project_inside_the_hd_images():
    calibration = panoptic.read_calibration(BAND1 / "calibration_160906_band1.json", dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the band sequence holds three people; body 0 is the one wanted here
        body = panoptic.read_body_sequence(BAND1, body_id=0, dtype=torch.float64)
    confident = (body.confidence > 0.1) & torch.isfinite(body.points).all(-1)
    pixels = project(body.points[:, None], calibration.cameras)  # (F, 31, 18, 2)
    width, height = 1920, 1080
    inside = (pixels[..., 0] >= 0) & (pixels[..., 0] < width) & (pixels[..., 1] >= 0) & (pixels[..., 1] < height)
    share = inside[confident[:, None].expand_as(inside)].float().mean().item()
    assert share > 0.75, share  # measured: 0.83 (some cameras frame the other musicians)


@needs_real
def test_real_multi_person_sequence_warns_and_keeps_the_chosen_body():
    with pytest.warns(UserWarning, match="20 of 20 frames hold several bodies; kept body 2"):
        body = panoptic.read_body_sequence(BAND1, body_id=2, dtype=torch.float64)
    raw = _raw_bodies(BAND1)
    assert body.frame_ids.tolist() == sorted(raw)
    first = next(b for b in raw[body.frame_ids[0].item()] if b["id"] == 2)["joints19"]
    neck = torch.tensor(first[0:3], dtype=torch.float64) * 10
    assert torch.allclose(body.points[0, COCO18.index("neck")], neck)


@needs_real
def test_real_calibration_round_trips_through_the_writer(tmp_path):
    calibration = panoptic.read_calibration(BAND1 / "calibration_160906_band1.json", dtype=torch.float64)
    panoptic.write_calibration(tmp_path / "calibration_copy.json", calibration)
    again = panoptic.read_calibration(tmp_path / "calibration_copy.json", dtype=torch.float64)
    _assert_same_calibration(again, calibration, atol=1e-9)


def _assert_same_calibration(actual: Calibration, expected: Calibration, atol: float) -> None:
    assert actual.names == expected.names
    assert torch.equal(actual.image_sizes, expected.image_sizes)
    for name in ("K", "R", "t", "dist"):
        assert torch.allclose(getattr(actual.cameras, name), getattr(expected.cameras, name), atol=atol), name


def _synthetic_calibration(views: int = 3, dtype: torch.dtype = torch.float64) -> Calibration:
    generator = torch.Generator().manual_seed(views)
    angle = torch.rand(views, generator=generator, dtype=dtype) * 6.28
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    R = torch.stack([angle.cos(), zero, -angle.sin(), zero, one, zero, angle.sin(), zero, angle.cos()], -1)
    K = torch.tensor([[1500.0, 0, 960], [0, 1490, 540], [0, 0, 1]], dtype=dtype).expand(views, 3, 3)
    t = torch.randn(views, 3, generator=generator, dtype=dtype) * 100 + torch.tensor([0, 0, 3000], dtype=dtype)
    dist = torch.randn(views, 5, generator=generator, dtype=dtype) * 0.01
    names = tuple(f"00_{node:02d}" for node in range(views))
    return Calibration(Camera(K, R.reshape(views, 3, 3), t, dist), names, torch.tensor([[1920, 1080]] * views))


def test_calibration_writer_stores_t_in_centimetres_as_3x1(tmp_path):
    calibration = _synthetic_calibration()
    path = tmp_path / "calibration_seq.json"
    panoptic.write_calibration(path, calibration)
    written = json.loads(path.read_text())["cameras"]
    assert [camera["node"] for camera in written] == [0, 1, 2]
    assert all(camera["panel"] == 0 and camera["type"] == "hd" for camera in written)
    assert np.allclose([camera["t"] for camera in written], calibration.cameras.t.numpy()[..., None] / 10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_calibration_round_trip(tmp_path, dtype):
    calibration = _synthetic_calibration()
    panoptic.write_calibration(tmp_path / "calibration_seq.json", calibration)
    again = panoptic.read_calibration(tmp_path / "calibration_seq.json", dtype=dtype)
    assert again.cameras.K.dtype == dtype
    _assert_same_calibration(again, _cast(calibration, dtype), atol=1e-3 if dtype == torch.float32 else 1e-9)


def _cast(calibration: Calibration, dtype: torch.dtype) -> Calibration:
    return Calibration(calibration.cameras.to(dtype), calibration.names, calibration.image_sizes)


def test_calibration_reader_sorts_cameras_by_panel_and_node(tmp_path):
    calibration = _synthetic_calibration(views=3)
    reordered = Calibration(calibration.cameras[[2, 0, 1]], ("00_02", "00_00", "00_01"), calibration.image_sizes)
    panoptic.write_calibration(tmp_path / "calibration_seq.json", reordered)
    again = panoptic.read_calibration(tmp_path / "calibration_seq.json", dtype=torch.float64)
    _assert_same_calibration(again, calibration, atol=1e-9)


def _bodies(people: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    points = torch.randn(people, 18, 3, generator=generator, dtype=torch.float64) * 300
    confidence = torch.rand(people, 18, generator=generator, dtype=torch.float64)
    points[0, COCO18.index("left_ear")] = float("nan")
    return points, confidence


def test_bodies_round_trip_with_missing_joints(tmp_path):
    points, confidence = _bodies()
    path = tmp_path / "body3DScene_00000007.json"
    panoptic.write_bodies(path, points, confidence, ids=[4, 9])
    loaded = panoptic.read_bodies(path, dtype=torch.float64)
    assert loaded.ids == (4, 9)
    assert torch.allclose(loaded.points, points, equal_nan=True, atol=1e-9)
    ear = COCO18.index("left_ear")
    assert torch.allclose(loaded.confidence[0, :ear], confidence[0, :ear])
    assert loaded.confidence[0, ear] == -1


def test_body_writer_stores_centimetres_and_body_center_at_the_hip_midpoint(tmp_path):
    points, confidence = _bodies(people=1)
    path = tmp_path / "body3DScene_00000001.json"
    panoptic.write_bodies(path, points, confidence, ids=[0])
    joints19 = np.array(json.loads(path.read_text())["bodies"][0]["joints19"]).reshape(19, 4)
    hips = points[0, [COCO18.index("left_hip"), COCO18.index("right_hip")]].mean(0).numpy()
    assert np.allclose(joints19[2, :3] * 10, hips)
    assert np.allclose(joints19[1, :3] * 10, points[0, COCO18.index("nose")].numpy())
    assert list(joints19[16]) == [0, 0, 0, -1]  # left_ear is joints19 index 16 and was NaN


def test_body_sequence_skips_frames_without_the_body_and_counts_them(tmp_path):
    points, confidence = _bodies(people=2)
    for frame, ids in [(3, [5, 6]), (4, [6]), (5, [5])]:
        panoptic.write_bodies(panoptic.body_file(tmp_path, frame), points[: len(ids)], confidence[: len(ids)], ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sequence = panoptic.read_body_sequence(tmp_path, dtype=torch.float64)
    messages = sorted(str(warning.message).split(": ", 1)[1] for warning in caught)
    assert messages == ["1 of 3 frames hold several bodies; kept body 5", "skipped 1 of 3 frames without body 5"]
    assert sequence.body_id == 5 and sequence.frame_ids.tolist() == [3, 5]
    assert torch.allclose(sequence.points, points[[0, 0]], equal_nan=True)


def test_body_sequence_of_an_empty_folder_is_refused(tmp_path):
    (tmp_path / panoptic.BODY_FOLDER).mkdir()
    with pytest.raises(ValueError, match="hdPose3d_stage1_coco19: empty sequence"):
        panoptic.read_body_sequence(tmp_path)


def test_hands_round_trip_with_unseen_landmarks(tmp_path):
    generator = torch.Generator().manual_seed(1)
    points = torch.randn(2, 42, 3, generator=generator, dtype=torch.float64) * 100
    visible = torch.rand(2, 42, generator=generator) > 0.2
    confidence = torch.rand(2, 42, generator=generator, dtype=torch.float64)
    path = tmp_path / "handRecon3D_hd00000002.json"
    panoptic.write_hands(path, points, visible, confidence, ids=[0, 3])
    loaded = panoptic.read_hands(path, dtype=torch.float64)
    assert loaded.ids == (0, 3)
    assert torch.equal(loaded.visible, visible)
    assert torch.allclose(loaded.points[visible], points[visible])
    assert torch.isnan(loaded.points[~visible]).all()
    assert torch.allclose(loaded.confidence, confidence)
    written = json.loads(path.read_text())["people"][0]["left_hand"]["landmarks"]
    assert np.allclose(np.array(written).reshape(21, 3)[visible[0, :21]] * 10, points[0, :21][visible[0, :21]])


def test_hand_sequence_fills_frames_without_a_file_or_person_with_nan(tmp_path):
    points = torch.arange(42 * 3, dtype=torch.float64).reshape(1, 42, 3)
    visible = torch.ones(1, 42, dtype=torch.bool)
    panoptic.write_hands(panoptic.hand_file(tmp_path, 1), points, visible, torch.ones(1, 42), ids=[7])
    panoptic.write_hands(panoptic.hand_file(tmp_path, 2), points, visible, torch.ones(1, 42), ids=[8])
    sequence, seen = panoptic.read_hand_sequence(tmp_path, torch.tensor([1, 2, 3]), person_id=7, dtype=torch.float64)
    assert torch.allclose(sequence[0], points[0])
    assert torch.isnan(sequence[1:]).all() and seen.tolist() == [[True] * 42, [False] * 42, [False] * 42]


def test_hand_without_one_side_reads_that_side_as_unseen(tmp_path):
    path = tmp_path / "handRecon3D_hd00000001.json"
    landmarks = list(range(3 * len(HAND21)))
    path.write_text(json.dumps({"people": [{"id": 0, "right_hand": {"landmarks": landmarks}}]}))
    hands = panoptic.read_hands(path, dtype=torch.float64)
    assert not hands.visible[0, :21].any() and hands.visible[0, 21:].all()
    assert torch.allclose(hands.points[0, 21:].reshape(-1), torch.tensor(landmarks, dtype=torch.float64) * 10)


# ---- calibrations that would silently mislead: duplicate names, bad resolutions, one centre, hopeless lenses -----


def _calibration_json(tmp_path: Path, edit) -> Path:
    """A valid 3-camera calibration written by the writer, its raw ``cameras`` list changed by ``edit``, re-saved."""
    path = tmp_path / "calibration_seq.json"
    panoptic.write_calibration(path, _synthetic_calibration(views=3))
    content = json.loads(path.read_text())
    edit(content["cameras"])
    path.write_text(json.dumps(content))
    return path


def _set(index: int, key: str, value):
    def edit(cameras: list[dict]) -> None:
        cameras[index][key] = value

    return edit


def _same_centre_as_camera_0(offset_mm: float):
    """Move camera 2 to camera 0's centre plus ``offset_mm`` along x, keeping its rotation; camera 1 too."""

    def edit(cameras: list[dict]) -> None:
        R0, t0 = np.array(cameras[0]["R"]), np.array(cameras[0]["t"]).reshape(3)
        centre = -R0.T @ t0 + np.array([offset_mm / panoptic.CM_TO_MM, 0, 0])
        for camera in cameras[1:]:
            camera["t"] = (-np.array(camera["R"]) @ centre).reshape(3, 1).tolist()

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set(2, "name", "00_00"), r"cameras\[2\].name must be unique among the 'hd' cameras, got '00_00' again "
                                   r"\(first at cameras\[0\].name\)"),
        (_set(1, "resolution", [0, -5]), r"cameras\[1\].resolution must be two positive integers .*got \[0, -5\]"),
        (_set(1, "resolution", [1920, 0]), r"cameras\[1\].resolution must be two positive integers"),
        (_set(0, "resolution", [640.25, 480]), r"cameras\[0\].resolution must be two positive integers"),
        (_same_centre_as_camera_0(0.0), r"must stand at two distinct centres or more \(one more than 1.0 mm from "
                                        r"their mean\) to triangulate, got all 3 within 0.000 mm"),
        (_same_centre_as_camera_0(0.5), r"got all 3 within 0.333 mm of their mean"),
        (_set(2, "distCoef", [50.0, 0, 0, 0, 0]), r"cameras\[2\].distCoef must be a lens invertible over the "
                                                  r"1920x1080 image .* got pixels without an inverse"),
        (_set(0, "distCoef", [-0.2, -0.5, 0, 0, 0]), r"cameras\[0\].distCoef must be a lens invertible"),
    ],
    ids=["duplicate name", "resolution 0x-5", "zero height", "fractional width", "one centre", "centres 0.5 mm apart",
         "k1 = 50", "k2 = -0.5 folds"],
)  # fmt: skip
def test_calibration_that_would_mislead_is_refused_naming_the_field(tmp_path, edit, message):
    path = _calibration_json(tmp_path, edit)
    with pytest.raises(ValueError, match=rf"^calibration_seq.json: .*{message}"):
        panoptic.read_calibration(path)


@pytest.mark.parametrize(
    "edit",
    [_same_centre_as_camera_0(2.0), _set(1, "resolution", [1920.0, 1080.0]), _set(1, "distCoef", [10.0, 0, 0, 0, 0])],
    ids=["centres 2 mm apart", "integral floats", "k1 = 10, strong but invertible"],
)
def test_calibration_just_inside_each_rule_is_read(tmp_path, edit):
    assert len(panoptic.read_calibration(_calibration_json(tmp_path, edit)).names) == 3


def test_a_single_camera_and_names_repeated_across_types_are_accepted(tmp_path):
    def edit(cameras: list[dict]) -> None:
        cameras[1]["type"] = "vga"
        cameras[2].update(type="vga", name=cameras[0]["name"], distCoef=[50.0, 0, 0, 0, 0])  # broken, but not asked for

    path = _calibration_json(tmp_path, edit)
    single = panoptic.read_calibration(path)  # one HD camera: single-view lifting needs nothing more
    assert single.names == ("00_00",)
    with pytest.raises(ValueError, match=r"cameras\[2\].distCoef must be a lens invertible"):
        panoptic.read_calibration(path, camera_type="vga")


def test_lens_check_of_a_calibration_agrees_with_undistorting_its_own_image_corners(tmp_path):
    """Independent of lens_inversion_error_px's grid: the corner detections of a refused lens are NaN."""
    from weakpose_lite.cameras import pixels_to_normalised, undistort

    calibration = _synthetic_calibration(views=3)
    corners = torch.tensor([[0.0, 0.0], [1919.0, 0.0], [0.0, 1079.0], [1919.0, 1079.0]], dtype=torch.float64)
    for dist, refused in (([50.0, 0, 0, 0, 0], True), ([-0.25, 0.2, 0, 0, 0.02], False)):
        undistorted = undistort(pixels_to_normalised(corners, calibration.cameras.K[1]), torch.tensor(dist).double())
        assert bool(torch.isnan(undistorted).any()) == refused
        path = _calibration_json(tmp_path, _set(1, "distCoef", dist))
        if refused:
            with pytest.raises(ValueError, match="distCoef must be a lens invertible"):
                panoptic.read_calibration(path)
        else:
            panoptic.read_calibration(path)
