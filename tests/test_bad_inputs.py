"""Malformed files get a ValueError that names the file and the field; writers leave nothing half-written.

Each file of ``tests/data/bad_inputs/`` is listed in its ``EXPECTED.json`` with the reader that opens it and the
exact text its error must contain, written by hand from the file's content (not copied from a run).
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from weakpose_lite.cameras import Camera
from weakpose_lite.data.formats import validation
from weakpose_lite.data.formats.openpose import read_openpose, read_openpose_views, write_openpose
from weakpose_lite.data.formats.panoptic import (
    Calibration,
    read_bodies,
    read_calibration,
    read_hands,
    write_bodies,
    write_calibration,
    write_hands,
)

BAD_INPUTS = Path(__file__).parent / "data" / "bad_inputs"
EXPECTED = {name: entry for name, entry in json.loads((BAD_INPUTS / "EXPECTED.json").read_text()).items()
            if not name.startswith("_")}  # fmt: skip
READERS = {
    "calibration": read_calibration,
    "bodies": read_bodies,
    "hands": read_hands,
    "openpose": read_openpose,
    "openpose_hands": lambda path: read_openpose(path, hands=True),
}


def test_every_bad_input_file_is_listed_and_there_are_at_least_fifteen():
    on_disk = {path.name for path in BAD_INPUTS.iterdir() if path.name != "EXPECTED.json"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 15
    assert max((BAD_INPUTS / name).stat().st_size for name in on_disk) <= 500


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_error_names_file_and_field(name):
    entry = EXPECTED[name]
    with pytest.raises(ValueError) as raised:
        READERS[entry["reader"]](BAD_INPUTS / name)
    message = str(raised.value)
    assert message.startswith(f"{name}: "), message
    assert entry["error"] in message, message


def _with_rotation(R: np.ndarray) -> Camera:
    """One float64 camera (1, 1) with rotation ``R``, 3 m from the origin, a pinhole lens."""
    K = torch.tensor([[1500.0, 0, 960], [0, 1500, 540], [0, 0, 1]], dtype=torch.float64)
    return Camera(K[None, None], torch.tensor(R)[None, None], torch.tensor([[[0.0, 0, 3000]]], dtype=torch.float64),
                  torch.zeros(1, 1, 5, dtype=torch.float64))  # fmt: skip


def test_rotation_tolerance_accepts_rounded_rotation_and_refuses_a_small_shear():
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    validation.check_cameras(_with_rotation(np.round(rotation, 9)), "c.json", ["cameras"])  # 9 decimals, as on disk
    sheared = rotation.copy()
    sheared[0, 1] += 1e-5
    with pytest.raises(ValueError, match=r"c.json: camera_R\[0, 0\] must be orthonormal"):
        validation.check_cameras(_with_rotation(sheared), "c.json", ["cameras"])


def test_frame_with_fewer_than_two_views_is_refused_with_its_frame_number():
    with pytest.raises(ValueError, match="seq: frame 12 has 1 view"):
        validation.check_views_per_frame(np.array([2, 1, 0]), np.array([11, 12, 13]), "seq")


def test_empty_sequence_folder_is_refused(tmp_path):
    calibration = _one_camera_calibration(2)
    (tmp_path / "openpose").mkdir()
    with pytest.raises(ValueError, match="openpose: empty sequence"):
        read_openpose_views(tmp_path / "openpose", calibration)


def _one_camera_calibration(views: int) -> Calibration:
    eye = torch.eye(3).expand(views, 3, 3)
    K = torch.tensor([[1500.0, 0, 960], [0, 1500, 540], [0, 0, 1]]).expand(views, 3, 3)
    cameras = Camera(K, eye, torch.tensor([0.0, 0, 3000]).expand(views, 3), torch.zeros(views, 5))
    return Calibration(cameras, tuple(f"00_{c:02d}" for c in range(views)), torch.tensor([[1920, 1080]] * views))


def test_writer_refusing_its_input_leaves_no_file(tmp_path):
    calibration = replace(_one_camera_calibration(1), names=("not a panel_node name",))
    with pytest.raises(ValueError, match="must read 'PP_NN'"):
        write_calibration(tmp_path / "calibration_broken.json", calibration)
    assert list(tmp_path.iterdir()) == []


def _writers(folder: Path, scale: float) -> dict:
    """File name -> a call that writes that file in one of the four formats, with coordinates scaled by ``scale``."""
    calibration = _one_camera_calibration(2)
    cameras = calibration.cameras
    calibration = replace(calibration, cameras=Camera(cameras.K, cameras.R, scale * cameras.t, cameras.dist))
    visible = torch.ones(1, 42, dtype=torch.bool)
    return {
        "calibration_x.json": lambda: write_calibration(folder / "calibration_x.json", calibration),
        "body3DScene_00000001.json": lambda: write_bodies(
            folder / "body3DScene_00000001.json", scale * torch.ones(1, 18, 3), torch.ones(1, 18), [0]
        ),
        "handRecon3D_hd00000001.json": lambda: write_hands(
            folder / "handRecon3D_hd00000001.json", scale * torch.ones(1, 42, 3), visible, torch.ones(1, 42), [0]
        ),
        "x_000000000001_keypoints.json": lambda: write_openpose(
            folder / "x_000000000001_keypoints.json", scale * torch.ones(1, 18, 2), torch.ones(1, 18)
        ),
    }


@pytest.mark.parametrize("name", sorted(_writers(Path("."), 1.0)))
def test_writer_failing_halfway_keeps_the_previous_file_and_no_temporary(tmp_path, monkeypatch, name):
    _writers(tmp_path, scale=1.0)[name]()
    before = (tmp_path / name).read_bytes()

    def write_half_then_fail(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        _writers(tmp_path, scale=2.0)[name]()
    monkeypatch.undo()
    assert [path.name for path in tmp_path.iterdir()] == [name]
    assert (tmp_path / name).read_bytes() == before


@pytest.mark.parametrize(
    "value, refused",
    [(3.4028234663852886e38, False), (-3.4e38, False), (3.5e38, True), (-1e39, True), (1e300, True)],
    ids=["float32 max", "-3.4e38", "3.5e38", "-1e39", "1e300"],
)
def test_numbers_must_be_finite_in_float32_not_only_in_float64(value, refused):
    if not refused:
        array = validation.number_array([[0.0], [value]], "c.json", "cameras[0].t", (2, 1))
        assert np.isfinite(array.astype(np.float32)).all()
        return
    with pytest.raises(ValueError, match=rf"^c.json: cameras\[0\].t\[1\]\[0\] must be finite in float32 "
                                         rf"\(\|x\| ≤ 3.4e38\), got {value:g}".replace("+", r"\+")):  # fmt: skip
        validation.number_array([[0.0], [value]], "c.json", "cameras[0].t", (2, 1))
