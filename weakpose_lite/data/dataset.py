"""The one in-memory dataset type: F multi-view frames × C views × J joints, with cameras and (optional) 3D truth.

Every source (synthetic rig, CMU Panoptic, OpenPose folders) builds a ``MultiViewDataset``; training, evaluation and
the notebooks read only this type. It saves to one ``.npz`` per split (with a format version) and loads back.

Conventions:
- ``keypoints_2d`` are detections in **pixels, as detected** (through the lens: distorted). Missing joints and
  missing views hold zeros and carry ``confidence == 0``; never read a coordinate without its mask.
- ``points_3d`` is the groundtruth in **world millimetres**, NaN where unknown. It is for evaluation only: the weakly-
  supervised path never reads it (``without_groundtruth`` gives a copy that provably cannot leak it).
- Cameras are stored per sequence, ``(S, C)``; ``frame_cameras`` gathers them per frame ``(F, C)``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from weakpose_lite.cameras import Camera
from weakpose_lite.data.formats.validation import FLOAT32_MAX, check_cameras, check_detections, indexed, refuse_first
from weakpose_lite.files import atomic_path
from weakpose_lite.skeleton import Skeleton, get_skeleton

FORMAT_VERSION = 1
_TENSOR_FIELDS = ("keypoints_2d", "confidence", "view_mask", "sequence_index", "subject_index", "frame_ids", "points_3d")
_CAMERA_FIELDS = ("K", "R", "t", "dist")


@dataclass(frozen=True)
class MultiViewDataset:
    """Multi-view 2D detections with calibrated cameras; shapes below, F frames, C views, J joints, S sequences.

    keypoints_2d (F, C, J, 2) px; confidence (F, C, J) in [0, 1]; view_mask (F, C) bool; cameras (S, C);
    sequence_index (F,) into sequence_names; subject_index (F,) into subject_names; frame_ids (F,) frame numbers;
    points_3d (F, J, 3) world mm or NaN; metadata: JSON-serialisable facts (source, detections, split, ...).
    """

    skeleton_name: str
    keypoints_2d: Tensor
    confidence: Tensor
    view_mask: Tensor
    cameras: Camera
    sequence_index: Tensor
    subject_index: Tensor
    frame_ids: Tensor
    sequence_names: tuple[str, ...]
    subject_names: tuple[str, ...]
    points_3d: Tensor
    metadata: dict = field(default_factory=dict)

    @property
    def skeleton(self) -> Skeleton:
        """The joint order of this dataset."""
        return get_skeleton(self.skeleton_name)

    @property
    def num_frames(self) -> int:
        """F."""
        return self.keypoints_2d.shape[0]

    @property
    def num_views(self) -> int:
        """C, the largest number of views of a frame."""
        return self.keypoints_2d.shape[1]

    @property
    def visible(self) -> Tensor:
        """(F, C, J) bool: the joint was detected in a present view."""
        return (self.confidence > 0) & self.view_mask[..., None]

    @property
    def has_groundtruth(self) -> Tensor:
        """(F, J) bool: the 3D groundtruth of the joint is known."""
        return torch.isfinite(self.points_3d).all(-1)

    def frame_cameras(self, frames: Tensor | None = None) -> Camera:
        """Cameras per frame (F, C), or for the frames indexed by ``frames`` (N,) -> (N, C)."""
        sequences = self.sequence_index if frames is None else self.sequence_index[frames]
        return self.cameras[sequences]

    def subset(self, frames: Tensor) -> MultiViewDataset:
        """The frames indexed by ``frames`` (N,) (long indices or an (F,) bool mask), keeping all sequences."""
        return replace(self, **{name: getattr(self, name)[frames] for name in _TENSOR_FIELDS})

    def select_sequences(self, names: list[str] | tuple[str, ...]) -> MultiViewDataset:
        """The frames of the named sequences."""
        unknown = set(names) - set(self.sequence_names)
        if unknown:
            raise ValueError(f"unknown sequences {sorted(unknown)}; this dataset has {list(self.sequence_names)}")
        wanted = torch.tensor([self.sequence_names.index(name) for name in names])
        return self.subset(torch.isin(self.sequence_index, wanted))

    def fingerprint(self) -> str:
        """A short hex digest naming this data: its metadata (a synthetic set's whole config among it), sequences,
        frames and views. It leaves out the coordinates, whose last bits may differ between CPUs, so the same
        synthetic set generated on another machine has the same fingerprint."""
        digest = hashlib.sha256(json.dumps([self.metadata, self.skeleton_name, self.sequence_names], sort_keys=True).encode())
        for tensor in (self.sequence_index, self.frame_ids, self.view_mask):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def without_groundtruth(self) -> MultiViewDataset:
        """A copy whose 3D groundtruth is all NaN: what the weakly-supervised path is given."""
        return replace(self, points_3d=torch.full_like(self.points_3d, float("nan")))

    def summary(self) -> str:
        """A few lines: frames, views, subjects, sequences, missing-joint rate, groundtruth coverage."""
        views = self.view_mask.sum(1)
        present = self.view_mask[..., None].expand_as(self.confidence)
        missing = 1 - self.visible.sum().item() / max(present.sum().item(), 1)
        sequences = self.sequence_index.unique().numel()
        subjects = self.subject_index.unique().numel()
        return (
            f"{self.metadata.get('name', 'dataset')}: {self.num_frames} frames, views per frame "
            f"{int(views.min()) if self.num_frames else 0}-{int(views.max()) if self.num_frames else 0}, "
            f"{subjects} subjects, {sequences} sequences, skeleton {self.skeleton_name} ({self.skeleton.num_joints} "
            f"joints), missing joints {100 * missing:.1f}%, 3D groundtruth on "
            f"{100 * self.has_groundtruth.float().mean().item():.1f}% of joints, detections: "
            f"{self.metadata.get('detections', 'unknown')}"
        )

    def save(self, path: str | Path) -> None:
        """Write the dataset to one ``.npz`` file, atomically."""
        arrays = {name: getattr(self, name).cpu().numpy() for name in _TENSOR_FIELDS}
        arrays |= {f"camera_{name}": getattr(self.cameras, name).cpu().numpy() for name in _CAMERA_FIELDS}
        header = {
            "format_version": FORMAT_VERSION,
            "skeleton_name": self.skeleton_name,
            "sequence_names": list(self.sequence_names),
            "subject_names": list(self.subject_names),
            "metadata": self.metadata,
        }
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                np.savez_compressed(handle, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> MultiViewDataset:
        """Read a dataset written by ``save``; a foreign, damaged or inconsistent file gets an error naming it and
        the field: ``"<file>: <field> must be <expected>, got <actual>"``.

        Every member's ``.npy`` header is checked first (dtype, shape against the other fields and the skeleton,
        bytes against what the member holds and what the file may inflate to), so a small file declaring a huge array
        is refused before anything is allocated; then the values pass the detection and camera gates. Float64 arrays
        are read as float32, the precision the kit computes in (the gates checked they fit).
        """
        path = Path(path)
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path.name}: not a weakpose-lite dataset file ({error})") from error
        with archive:
            layouts = _member_layouts(archive, path.name, path.stat().st_size)
            header = _read_header(archive, layouts["header"], path.name)
            _check_layouts(layouts, header, path.name)
            arrays = {name: _read_array(archive, layouts[name], path.name) for name in _ARRAY_LAYOUTS}
        _check_values(arrays, header, path.name)
        arrays = {name: array.astype(np.float32) if array.dtype == np.float64 else array for name, array in arrays.items()}
        tensors = {name: torch.from_numpy(arrays[name]) for name in _TENSOR_FIELDS}
        camera = Camera(*(torch.from_numpy(arrays[f"camera_{name}"]) for name in _CAMERA_FIELDS))
        return cls(
            skeleton_name=header["skeleton_name"],
            cameras=camera,
            sequence_names=tuple(header["sequence_names"]),
            subject_names=tuple(header["subject_names"]),
            metadata=header["metadata"],
            **tensors,
        )


# What ``load`` accepts: each array's dtypes and shape, in the sizes F, C, J (keypoints_2d and the skeleton) and S
# (sequence_names). The file stays as ``save`` writes it; these only describe it.
_FLOATS, _INTEGERS = ("float32", "float64"), ("int32", "int64")
_ARRAY_LAYOUTS = {
    "keypoints_2d": (_FLOATS, ("F", "C", "J", 2)),
    "confidence": (_FLOATS, ("F", "C", "J")),
    "view_mask": (("bool",), ("F", "C")),
    "sequence_index": (_INTEGERS, ("F",)),
    "subject_index": (_INTEGERS, ("F",)),
    "frame_ids": (_INTEGERS, ("F",)),
    "points_3d": (_FLOATS, ("F", "J", 3)),
    "camera_K": (_FLOATS, ("S", "C", 3, 3)),
    "camera_R": (_FLOATS, ("S", "C", 3, 3)),
    "camera_t": (_FLOATS, ("S", "C", 3)),
    "camera_dist": (_FLOATS, ("S", "C", 5)),
}
_MAX_HEADER_BYTES = 64 << 20
# A file may inflate to 100 times its size, or 256 MiB if that is more: real datasets are float coordinates that
# deflate compresses about 1.5-fold, while a member of zeros inflates 1000-fold (the 2 MB file that asked for 2 GiB).
_MAX_EXPANSION, _MIN_INFLATE_BYTES = 100, 256 << 20
_DETECTION_FIELDS = {"keypoints": "keypoints_2d", "confidence": "confidence"}


class _Layout(NamedTuple):
    """One ``.npy`` member as its header declares it."""

    info: zipfile.ZipInfo
    dtype: np.dtype
    shape: tuple[int, ...]


def _member_layouts(archive: zipfile.ZipFile, source: str, file_bytes: int) -> dict[str, _Layout]:
    """The declared dtype and shape of every member ``load`` needs, each checked against the bytes it holds, and
    their total against what the file may inflate to; no array data is read."""
    members = {info.filename: info for info in archive.infolist()}
    layouts = {}
    for name in ("header", *_ARRAY_LAYOUTS):
        if f"{name}.npy" not in members:
            raise ValueError(f"{source}: {name} is missing (not a weakpose-lite dataset file?)")
        layouts[name] = _read_layout(archive, members[f"{name}.npy"], name, source)
    total = sum(layout.info.file_size for layout in layouts.values())
    limit = max(_MIN_INFLATE_BYTES, _MAX_EXPANSION * file_bytes)
    if total > limit:
        raise ValueError(f"{source}: arrays must inflate to at most {limit} bytes ({_MAX_EXPANSION} times the "
                         f"file's {file_bytes}), got {total}")  # fmt: skip
    return layouts


def _read_layout(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, source: str) -> _Layout:
    try:
        with archive.open(info) as handle:
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"npy format version {version} (1.0 or 2.0 expected)")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
            data_offset = handle.tell()
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
        raise ValueError(f"{source}: {name} is damaged or not a .npy array ({error})") from error
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    held = info.file_size - data_offset
    if declared != held:
        raise ValueError(f"{source}: {name} must hold the {declared} bytes its header declares ({dtype} "
                         f"{tuple(shape)}), got {held}")  # fmt: skip
    return _Layout(info, dtype, tuple(shape))


def _read_header(archive: zipfile.ZipFile, layout: _Layout, source: str) -> dict:
    """The JSON header: format version, skeleton name, sequence and subject names, metadata."""
    if layout.dtype.kind != "U" or layout.shape != () or layout.dtype.itemsize > _MAX_HEADER_BYTES:
        raise ValueError(f"{source}: header must be one JSON string of at most {_MAX_HEADER_BYTES} bytes, got "
                         f"{layout.dtype.str} {layout.shape}")  # fmt: skip
    try:
        header = json.loads(str(_read_array(archive, layout, source)))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, and JSON that Python refuses (4,300+ digits)
        raise ValueError(f"{source}: header must be JSON, got {str(error).split(';')[0]}") from error
    if not isinstance(header, dict):
        raise ValueError(f"{source}: header must be a JSON object, got {type(header).__name__}")
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{source}: format_version must be {FORMAT_VERSION}, got {header.get('format_version')!r}")
    for key in ("sequence_names", "subject_names"):
        names = header.get(key)
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError(f"{source}: {key} must be a list of strings, got {names!r:.60}")
    if not isinstance(header.get("metadata"), dict):
        raise ValueError(f"{source}: metadata must be a JSON object, got {header.get('metadata')!r:.60}")
    try:
        get_skeleton(header.get("skeleton_name"))
    except (ValueError, TypeError) as error:
        raise ValueError(f"{source}: skeleton_name {error}") from error
    return header


def _check_layouts(layouts: dict[str, _Layout], header: dict, source: str) -> None:
    """Every array's dtype and shape as ``_ARRAY_LAYOUTS`` says, with F, C from keypoints_2d, J from the skeleton
    and S from sequence_names."""
    skeleton = get_skeleton(header["skeleton_name"])
    keypoints = layouts["keypoints_2d"].shape
    if len(keypoints) != 4 or keypoints[3] != 2:
        raise ValueError(f"{source}: keypoints_2d must be (F, C, J, 2), got {keypoints}")
    sizes = {"F": keypoints[0], "C": keypoints[1], "J": skeleton.num_joints, "S": len(header["sequence_names"])}
    for name, (dtypes, letters) in _ARRAY_LAYOUTS.items():
        dtype, shape = layouts[name].dtype, layouts[name].shape
        if dtype.name not in dtypes or not dtype.isnative:
            raise ValueError(f"{source}: {name} must be {' or '.join(dtypes)}, got {dtype.str}")
        expected = tuple(sizes.get(letter, letter) for letter in letters)
        if shape != expected:
            meaning = ", ".join(f"{letter}={sizes[letter]}" for letter in dict.fromkeys(letters) if letter in sizes)
            raise ValueError(f"{source}: {name} must be {expected} ({meaning}; J of skeleton "
                             f"{skeleton.name!r}), got {shape}")  # fmt: skip


def _read_array(archive: zipfile.ZipFile, layout: _Layout, source: str) -> np.ndarray:
    name = layout.info.filename.removesuffix(".npy")
    try:
        with archive.open(layout.info) as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        raise ValueError(f"{source}: {name} is damaged ({error})") from error


def _check_values(arrays: dict[str, np.ndarray], header: dict, source: str) -> None:
    """Indices within their name lists, groundtruth finite in float32 or NaN, then the two gates: detections
    (``validation.check_detections``) and each sequence's cameras (``validation.check_cameras``)."""
    for name, names in (("sequence_index", "sequence_names"), ("subject_index", "subject_names")):
        index, count = arrays[name], len(header[names])
        refuse_first((index < 0) | (index >= count), source, indexed(name),
                     lambda i: f"must be in [0, {count}) ({names}), got {index[i]}")  # fmt: skip
    points = arrays["points_3d"]
    refuse_first(np.abs(points) > FLOAT32_MAX, source, indexed("points_3d"),
                 lambda i: f"must be finite in float32 or NaN, got {points[i]:g}")  # fmt: skip
    check_detections(torch.from_numpy(arrays["keypoints_2d"]), torch.from_numpy(arrays["confidence"]), source,
                     lambda key, index: indexed(_DETECTION_FIELDS[key])(index))  # fmt: skip
    cameras = Camera(*(torch.from_numpy(arrays[f"camera_{name}"]) for name in _CAMERA_FIELDS))
    check_cameras(cameras, source, [f"cameras of sequence {name!r}" for name in header["sequence_names"]])


SPLITS = ("train", "validation", "test")


def split_path(folder: str | Path, split: str) -> Path:
    """Where a split's file lives in a datasets folder: ``folder/<split>.npz``."""
    return Path(folder) / f"{split}.npz"


def save_splits(splits: dict[str, MultiViewDataset], folder: str | Path) -> Path:
    """Write ``splits`` as ``folder/{train,validation,test}.npz``; returns the folder."""
    for split in SPLITS:
        splits[split].save(split_path(folder, split))
    return Path(folder)


def load_splits(folder: str | Path) -> dict[str, MultiViewDataset]:
    """Read the three splits of a datasets folder (written by ``save_splits`` or ``data_scripts``)."""
    missing = [split_path(folder, split).name for split in SPLITS if not split_path(folder, split).exists()]
    if missing:
        raise ValueError(f"{folder}: missing split files {missing} (expected {', '.join(s + '.npz' for s in SPLITS)})")
    return {split: MultiViewDataset.load(split_path(folder, split)) for split in SPLITS}
