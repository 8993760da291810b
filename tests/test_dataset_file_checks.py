"""``MultiViewDataset.load`` on hostile and inconsistent ``.npz`` files, each crafted at test time from a valid one.

Every refusal is a ValueError ``"<file>: <field> must be <expected>, got <actual>"``; a member whose header declares
a huge array is refused from its header alone, before anything is allocated.
"""

import io
import json
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from weakpose_lite.data import dataset as dataset_module
from weakpose_lite.data.dataset import MultiViewDataset

F, C, J, S = 4, 3, 18, 2
FILE = "data.npz"


def _valid_dataset(make_camera, frames: int = F, dtype: torch.dtype = torch.float32) -> MultiViewDataset:
    generator = torch.Generator().manual_seed(0)
    sequence_index = torch.arange(frames) % S
    return MultiViewDataset(
        skeleton_name="body",
        keypoints_2d=(torch.rand(frames, C, J, 2, generator=generator) * 1000).to(dtype),
        confidence=torch.rand(frames, C, J, generator=generator).to(dtype),
        view_mask=torch.ones(frames, C, dtype=torch.bool),
        cameras=make_camera((S, C), seed=1).to(dtype),
        sequence_index=sequence_index,
        subject_index=sequence_index.clone(),
        frame_ids=torch.arange(frames),
        sequence_names=("seqA", "seqB"),
        subject_names=("alice", "bob"),
        points_3d=torch.randn(frames, J, 3, generator=generator).to(dtype) * 500,
        metadata={"name": "crafted"},
    )


@pytest.fixture
def valid_file(tmp_path, make_camera) -> Path:
    path = tmp_path / "valid.npz"
    _valid_dataset(make_camera).save(path)
    return path


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npy_header_only(descr: str, shape: tuple[int, ...], data: bytes = b"\0" * 64) -> bytes:
    """A ``.npy`` member whose header declares ``shape`` of ``descr`` but which holds only ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_2_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _header(path: Path) -> dict:
    return json.loads(str(_arrays(path)["header"]))


def _variant(valid: Path, changes: dict[str, object]) -> Path:
    """``valid`` rewritten as FILE beside it with members replaced: an array, raw ``.npy`` bytes, or None to drop it."""
    members = {name: _npy(array) for name, array in _arrays(valid).items()}
    for name, change in changes.items():
        if change is None:
            del members[name]
        else:
            members[name] = change if isinstance(change, bytes) else _npy(np.asarray(change))
    path = valid.with_name(FILE)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return path


def _refused(path: Path, *expected: str) -> str:
    with pytest.raises(ValueError) as raised:
        MultiViewDataset.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path.name}: ") and "\n" not in message, message
    for text in expected:
        assert text in message, message
    return message


def test_valid_file_round_trips_and_float32_rounding_of_rotations_is_accepted(valid_file, make_camera):
    loaded = MultiViewDataset.load(valid_file)
    original = _valid_dataset(make_camera)
    assert torch.equal(loaded.keypoints_2d, original.keypoints_2d) and torch.equal(loaded.cameras.R, original.cameras.R)
    assert loaded.sequence_names == ("seqA", "seqB") and loaded.metadata == {"name": "crafted"}


def test_float64_file_loads_as_float32_the_precision_the_kit_computes_in(tmp_path, make_camera):
    dataset = _valid_dataset(make_camera, dtype=torch.float64)
    dataset.save(tmp_path / "d.npz")
    loaded = MultiViewDataset.load(tmp_path / "d.npz")
    for name in ("keypoints_2d", "confidence", "points_3d"):
        assert getattr(loaded, name).dtype == torch.float32
        torch.testing.assert_close(getattr(loaded, name), getattr(dataset, name).float(), equal_nan=True)
    assert {getattr(loaded.cameras, name).dtype for name in ("K", "R", "t", "dist")} == {torch.float32}


def test_member_declaring_two_gib_is_refused_from_its_header_without_allocating(valid_file):
    path = _variant(valid_file, {"keypoints_2d": _npy_header_only("<f4", (2**28, 1, 1, 2))})
    tracemalloc.start()
    start = time.perf_counter()
    message = _refused(path, "keypoints_2d must hold the 2147483648 bytes its header declares", "got 64")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5 << 20, (elapsed, peak, message)


def test_consistent_huge_shapes_with_little_data_are_refused(valid_file):
    huge = 2**31
    changes = {
        "keypoints_2d": _npy_header_only("<f4", (huge, C, J, 2)),
        "confidence": _npy_header_only("<f4", (huge, C, J)),
        "view_mask": _npy_header_only("|b1", (huge, C)),
    }
    _refused(_variant(valid_file, changes), "keypoints_2d must hold the", "bytes its header declares")


def test_honest_member_of_zeros_inflating_far_beyond_the_file_is_refused(tmp_path, make_camera, monkeypatch):
    """The 2 MB file that inflated to 2 GiB, scaled down: 6 MB of zeros in a file of about 10 KB."""
    zeros = _valid_dataset(make_camera, frames=12_000)
    zeros = MultiViewDataset(**{**zeros.__dict__, "keypoints_2d": torch.zeros_like(zeros.keypoints_2d),
                                "confidence": torch.zeros_like(zeros.confidence),
                                "points_3d": torch.zeros_like(zeros.points_3d)})  # fmt: skip
    zeros.save(tmp_path / FILE)
    monkeypatch.setattr(dataset_module, "_MIN_INFLATE_BYTES", 1 << 20)
    size = (tmp_path / FILE).stat().st_size
    _refused(tmp_path / FILE, f"arrays must inflate to at most {100 * size} bytes (100 times the file's {size})")


def _shape_cases() -> dict[str, tuple[dict, str]]:
    rng = np.random.default_rng(0)
    floats = lambda *shape: rng.random(shape, dtype=np.float32)  # noqa: E731
    return {
        "confidence-joints": ({"confidence": floats(F, C, J + 1)}, f"confidence must be ({F}, {C}, {J})"),
        "view-mask-views": ({"view_mask": np.ones((F, C + 1), bool)}, f"view_mask must be ({F}, {C})"),
        "points-frames": ({"points_3d": floats(F - 1, J, 3)}, f"points_3d must be ({F}, {J}, 3)"),
        "sequence-index-frames": ({"sequence_index": np.zeros(F + 1, np.int64)}, f"sequence_index must be ({F},)"),
        "frame-ids-2d": ({"frame_ids": np.zeros((F, 1), np.int64)}, f"frame_ids must be ({F},)"),
        "rotation-views": ({"camera_R": np.tile(np.eye(3, dtype=np.float32), (S, C - 1, 1, 1))},
                           f"camera_R must be ({S}, {C}, 3, 3)"),
        "translation-sequences": ({"camera_t": floats(S + 1, C, 3)}, f"camera_t must be ({S}, {C}, 3) (S={S}, C={C}"),
        "distortion-coefficients": ({"camera_dist": floats(S, C, 4)}, f"camera_dist must be ({S}, {C}, 5)"),
        "keypoints-3d": ({"keypoints_2d": floats(F, C, J)}, "keypoints_2d must be (F, C, J, 2)"),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_shape_cases()))
def test_fields_whose_shapes_disagree_are_refused_naming_the_field(valid_file, case):
    changes, expected = _shape_cases()[case]
    _refused(_variant(valid_file, changes), expected)


def test_keypoints_with_another_skeletons_joint_count_name_the_skeleton(valid_file):
    arrays = _arrays(valid_file)
    changes = {name: arrays[name][..., :17, :] if name == "keypoints_2d" else arrays[name][..., :17]
               for name in ("keypoints_2d", "confidence")}  # fmt: skip
    changes["points_3d"] = arrays["points_3d"][:, :17]
    _refused(_variant(valid_file, changes), f"keypoints_2d must be ({F}, {C}, 18, 2)", "skeleton 'body'",
             f"got ({F}, {C}, 17, 2)")  # fmt: skip


DTYPE_CASES = {
    "view-mask-float": ("view_mask", np.ones((F, C), np.float32), "view_mask must be bool, got <f4"),
    "index-float": ("sequence_index", np.zeros(F, np.float64), "sequence_index must be int32 or int64, got <f8"),
    "index-uint8-mask": ("sequence_index", np.zeros(F, np.uint8), "must be int32 or int64, got |u1"),
    "keypoints-integer": ("keypoints_2d", np.zeros((F, C, J, 2), np.int64), "keypoints_2d must be float32 or"),
    "keypoints-half": ("keypoints_2d", np.zeros((F, C, J, 2), np.float16), "float32 or float64, got <f2"),
    "keypoints-big-endian": ("keypoints_2d", np.zeros((F, C, J, 2), ">f4"), "float32 or float64, got >f4"),
    "camera-object": ("camera_K", _npy_header_only("|O", (S, C, 3, 3), b"\0" * (8 * S * C * 9)),
                      "camera_K must be float32 or float64, got |O"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(DTYPE_CASES))
def test_fields_of_the_wrong_dtype_are_refused(valid_file, case):
    name, array, expected = DTYPE_CASES[case]
    _refused(_variant(valid_file, {name: array}), expected)


def _header_cases() -> dict[str, tuple[object, str]]:
    return {
        "version": (lambda h: {**h, "format_version": 2}, "format_version must be 1, got 2"),
        "skeleton": (lambda h: {**h, "skeleton_name": "tail"}, "skeleton_name unknown skeleton 'tail'"),
        "sequence-names": (lambda h: {**h, "sequence_names": "seqA"}, "sequence_names must be a list of strings"),
        "metadata": (lambda h: {**h, "metadata": []}, "metadata must be a JSON object, got []"),
        "one-sequence-fewer": (lambda h: {**h, "sequence_names": ["seqA"]}, f"camera_K must be (1, {C}, 3, 3)"),
    }


@pytest.mark.parametrize("case", sorted(_header_cases()))
def test_header_fields_are_checked(valid_file, case):
    change, expected = _header_cases()[case]
    header = np.array(json.dumps(change(_header(valid_file))))
    _refused(_variant(valid_file, {"header": header}), expected)


@pytest.mark.parametrize(
    "header, expected",
    [(np.zeros(3), "header must be one JSON string"), (np.array("{not json"), "header must be JSON")],
    ids=["numbers", "not-json"],
)
def test_header_that_is_not_a_json_string_is_refused(valid_file, header, expected):
    _refused(_variant(valid_file, {"header": header}), expected)


def _value_cases(R: np.ndarray, K: np.ndarray) -> dict[str, tuple[dict, str]]:
    scaled, reflected, singular, last_row = R.copy(), R.copy(), K.copy(), K.copy()
    scaled[0, 1] *= 2
    reflected[1, 2, 0] *= -1
    singular[1, 0, 0, 0] = 0
    last_row[0, 2, 2, 2] = 2
    return {
        "rotation-scaled-by-2": ({"camera_R": scaled}, "camera_R[0, 1] must be orthonormal (max |RᵀR − I| ≤ 0.0001)"),
        "reflection": ({"camera_R": reflected}, "camera_R[1, 2] must be a rotation (det +1), got det -1"),
        "singular-K": ({"camera_K": singular}, "camera_K[1, 0] must be invertible with positive focal lengths"),
        "K-last-row": ({"camera_K": last_row}, "camera_K[0, 2] must have last row [0, 0, 1], got [0.0, 0.0, 2.0]"),
    }


@pytest.mark.parametrize("case", ["rotation-scaled-by-2", "reflection", "singular-K", "K-last-row"])
def test_cameras_must_be_rotations_with_invertible_intrinsics(valid_file, case):
    arrays = _arrays(valid_file)
    changes, expected = _value_cases(arrays["camera_R"], arrays["camera_K"])[case]
    _refused(_variant(valid_file, changes), expected)


def _with(array: np.ndarray, index: tuple, value) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(
    "name, index, value, expected",
    [
        ("camera_t", (0, 2, 1), np.nan, "camera_t[0, 2] must be finite in float32, got ["),
        ("keypoints_2d", (3, 1, 4, 0), np.inf, "keypoints_2d[3, 1, 4, 0] must be within ±100000 px, got inf"),
        ("points_3d", (2, 5, 1), -np.inf, "points_3d[2, 5, 1] must be finite in float32 or NaN, got -inf"),
        ("confidence", (1, 0, 7), 1.5, "confidence[1, 0, 7] must be in [0, 1], got 1.5"),
        ("sequence_index", (3,), 2, "sequence_index[3] must be in [0, 2) (sequence_names), got 2"),
        ("subject_index", (0,), -1, "subject_index[0] must be in [0, 2) (subject_names), got -1"),
    ],
    ids=["nan-translation", "inf-keypoint", "inf-groundtruth", "confidence-above-1", "sequence-index", "subject-index"],
)
def test_values_outside_their_range_are_refused_naming_the_element(valid_file, name, index, value, expected):
    _refused(_variant(valid_file, {name: _with(_arrays(valid_file)[name], index, value)}), expected)


def test_missing_member_is_named(valid_file):
    _refused(_variant(valid_file, {"camera_K": None}), "camera_K is missing")


def test_damaged_member_data_is_named(valid_file):
    path = _variant(valid_file, {})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("points_3d.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    _refused(path, "points_3d is damaged")


@pytest.mark.parametrize("content", [b"not a zip file", b""], ids=["text", "empty"])
def test_file_that_is_not_a_zip_is_refused(tmp_path, content):
    (tmp_path / FILE).write_bytes(content)
    _refused(tmp_path / FILE, "not a weakpose-lite dataset file")
