"""Lift your own 2D detections to 3D with a trained checkpoint: ``python -m weakpose_lite.lift``.

    # one camera, no calibration: root-relative poses in the camera frame (principal point at the image centre)
    python -m weakpose_lite.lift best.pt openpose_json/ -o poses.json --focal 1400 --image-size 1920 1080
    # one camera of a Panoptic calibration (its K and lens): root-relative poses in that camera's frame
    python -m weakpose_lite.lift best.pt openpose_json/ -o poses.json --calibration calibration_seq.json --view 00_03
    # several calibrated views of the same moments, one folder per view (<input>/hd_00_XX/): world poses
    python -m weakpose_lite.lift best.pt openpose_views/ -o poses.npz --calibration calibration_seq.json
    # the kit's own dataset file, with its cameras: world poses
    python -m weakpose_lite.lift best.pt test.npz -o poses.json --plot

Inputs: OpenPose JSON (COCO-18 or BODY_25, mapped by joint name; ``pose_keypoints_2d`` or the old
``pose_keypoints``; the hands too when the checkpoint lifts body + hands), one file, a folder of them (one per
image, every ``*.json``), or per-view folders named as OpenPose names a view's video (``data.openpose``); or a
dataset ``.npz`` (``MultiViewDataset.save``). In a folder, a file that cannot be read is reported, skipped and counted;
a single file that cannot be read is an error.

Single view: every person of every image is lifted to h_θ's root-relative pose in the camera frame (Eq. 1).
Several calibrated views (per-view folders, where the most confident person of each image is taken, or a dataset
file): the views' predictions are rotated to the world, averaged and placed at the root triangulated from the views
(Eq. 5, 6, 8): absolute world coordinates, with the views' spread about their average as a per-joint uncertainty.

Output (``-o``, ``.json`` or ``.npz``, written atomically). Both hold the same fields:

- ``format`` ("weakpose-lite poses"), ``version`` (1), ``units`` ("mm"), ``coordinate_frame``: "camera" (x right,
  y down, z forward, root at the origin) or "world" (the calibration's world frame, absolute);
- ``skeleton``, ``joint_names`` (J), ``root_joint``, ``checkpoint``, ``input``, ``statuses`` (the possible values),
  ``skipped_files`` ([{file, error}]), ``summary`` (counts per status, frames per second);
- one row per frame (multi-view) or per person per image (single view), N rows:
  ``frame`` (the image's frame number: the digits ending its file name, else its place in name order),
  ``person`` (index in the image's ``people``; 0 for multi-view), ``source`` (file name for single view, sequence
  or folder name otherwise), ``status`` (see ``inference.STATUSES``; only "ok" rows have a pose), ``views`` (views
  used), ``pose`` (J × 3, mm), ``uncertainty_mm`` (J, the views' mean distance to their average; null for single
  view).

JSON: the fields above plus ``frames``, a list of row objects (missing values are null). NPZ: ``header`` (the
fields above as one JSON string) and arrays ``frame`` (N,), ``person`` (N,), ``source`` (N,), ``status`` (N,),
``views`` (N,), ``poses`` (N, J, 3) and ``uncertainty_mm`` (N, J), NaN where missing; read with
``allow_pickle=False``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from weakpose_lite import inference
from weakpose_lite.cameras import Camera
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.openpose import People, most_confident_views, read_openpose, view_folder, view_frames
from weakpose_lite.data.panoptic import Calibration, read_calibration
from weakpose_lite.files import atomic_path, write_text_atomic
from weakpose_lite.model import LiftingNetwork
from weakpose_lite.skeleton import SKELETONS, Skeleton, to_absolute
from weakpose_lite.train import load_model, prepare

OUTPUT_FORMAT = "weakpose-lite poses"
OUTPUT_VERSION = 1
OUTPUT_SUFFIXES = (".json", ".npz")
_FRAME_NUMBER = re.compile(r"(\d+)(?:_keypoints)?\.json$")


@dataclass(frozen=True)
class LiftConfig:
    """What to lift and how; the command line fills the same fields."""

    checkpoint: str
    input: str
    output: str
    calibration: str | None = None  # Panoptic calibration JSON: one view's K and lens, or every view's camera
    view: str | None = None  # the calibration's camera ("00_03") a single-view folder was filmed with
    camera_type: str = "hd"
    focal: float | None = None  # px; with image_size, K of a single view without calibration
    image_size: tuple[float, float] | None = None  # (width, height) px
    min_visible_joints: int | None = None  # None: the checkpoint's training value
    batch_size: int = 8192
    plot: bool = False
    plot_frames: int = 4


@dataclass(frozen=True)
class Detections:
    """What is lifted: detections as a dataset (N rows × C views) and, per row, person (N,) and source name."""

    dataset: MultiViewDataset
    coordinate_frame: str
    people: Tensor
    sources: tuple[str, ...]
    skipped_files: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class LiftResult:
    """N lifted rows: poses (N, J, 3) mm and uncertainty (N, J) mm, NaN where unknown; frame, person, status, views
    (N,); sources (N names); what was skipped; and the timings."""

    coordinate_frame: str
    skeleton: Skeleton
    frame: Tensor
    person: Tensor
    sources: tuple[str, ...]
    status: Tensor
    views: Tensor
    poses: Tensor
    uncertainty: Tensor
    skipped_files: list[dict]
    seconds: float
    network_poses: int
    network_seconds: float

    def summary(self) -> dict:
        """Counts per status, skipped files, rows per second overall and poses per second through the network."""
        counts = {name: int((self.status == code).sum()) for code, name in enumerate(inference.STATUSES)}
        return {
            "rows": len(self.status), "by_status": counts, "skipped_files": len(self.skipped_files),
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(len(self.status) / max(self.seconds, 1e-9), 1),
            "network_poses_per_second": round(self.network_poses / max(self.network_seconds, 1e-9), 1),
        }  # fmt: skip


def load_lifting_model(path: str | Path) -> tuple[LiftingNetwork, Skeleton, int]:
    """A checkpoint -> the network, the skeleton it lifts (told by its joint count) and its min_visible_joints."""
    path = Path(path)
    try:
        model, train_config = load_model(path)
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(
            f"{path}: a weakpose-lite checkpoint whose network does not load ({type(error).__name__}: {error})"
        ) from error
    joints = model.config.num_joints
    skeleton = next((s for s in SKELETONS.values() if s.num_joints == joints), None)
    if skeleton is None:
        expected = ", ".join(f"{s.num_joints} ({s.name})" for s in SKELETONS.values())
        raise ValueError(f"{path}: the network lifts {joints} joints; expected a skeleton of {expected}")
    if model.config.root != skeleton.root:
        root = f"{skeleton.root} ({skeleton.joints[skeleton.root]})"
        raise ValueError(f"{path}: model_config.root must be {root}, got {model.config.root}")
    return model, skeleton, train_config.min_visible_joints


def lift(config: LiftConfig) -> LiftResult:
    """Read the checkpoint and detections of ``config``, lift them, write the output (and plots); returns the result."""
    started = time.perf_counter()
    output = _check_output(config.output)
    source = _check_input(config.input)
    model, skeleton, trained_min_visible = load_lifting_model(config.checkpoint)
    min_visible = trained_min_visible if config.min_visible_joints is None else config.min_visible_joints
    detections = read_detections(config, source, skeleton)
    tensors = prepare(detections.dataset, False, min_visible)
    frames = tensors.usable.shape[0]
    with tqdm(total=frames, desc="lifting", unit="frame") as progress:
        network_started = time.perf_counter()
        predicted = inference.predict_usable(
            model, tensors.relative_2d, tensors.visible, tensors.usable, config.batch_size, progress.update
        )
        network_seconds = time.perf_counter() - network_started
    average, spread = inference.fuse_views(predicted, tensors.R, tensors.usable)
    if detections.coordinate_frame == "world":
        fused = torch.zeros(frames, dtype=torch.bool)
        fused[tensors.frames] = True
        status = inference.multi_view_status(detections.dataset.view_mask, fused)
        poses = to_absolute(average, tensors.root_world.to(average.dtype))
        uncertainty = spread
    else:
        present = detections.dataset.view_mask[:, 0]
        status = inference.single_view_status(tensors.visible[:, 0], present, skeleton.root, min_visible)
        poses, uncertainty = average, torch.full_like(spread, math.nan)
    lifted = (status == inference.OK)[:, None]
    result = LiftResult(
        detections.coordinate_frame, skeleton, detections.dataset.frame_ids, detections.people, detections.sources,
        status, tensors.usable.sum(1), torch.where(lifted[..., None], poses, math.nan),
        torch.where(lifted, uncertainty, math.nan), detections.skipped_files, time.perf_counter() - started,
        int(tensors.usable.sum()), network_seconds,
    )  # fmt: skip
    write_result(output, result, {"checkpoint": str(config.checkpoint), "input": str(config.input)})
    print(_summary_line(result))
    if config.plot:
        written = write_plots(output, result, config.plot_frames)
        print("plots: " + (", ".join(str(path) for path in written) if written else "none (nothing was lifted)"))
    return result


def _check_output(path: str) -> Path:
    output = Path(path)
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"{output}: the output must end in {' or '.join(OUTPUT_SUFFIXES)}, got {output.suffix!r}")
    return output


def _check_input(path: str) -> Path:
    source = Path(path)
    if not source.exists():
        raise ValueError(f"{source}: no such file or folder (expected OpenPose JSON files or a dataset .npz)")
    if source.is_file() and source.suffix.lower() not in (".json", ".npz"):
        raise ValueError(f"{source}: expected a folder of OpenPose JSON files, one OpenPose .json or a dataset .npz")
    return source


def read_detections(config: LiftConfig, source: Path, skeleton: Skeleton) -> Detections:
    """The input of ``config`` as ``Detections``: a dataset file, per-view folders, or single-view OpenPose files."""
    if source.suffix.lower() == ".npz":
        return _dataset_file(source, skeleton, config.checkpoint)
    calibration = _read_calibration(config)
    if source.is_dir() and calibration is not None and _has_view_folders(source, calibration, config.camera_type):
        return _view_folders(source, calibration, skeleton, config.camera_type)
    camera = _single_view_camera(config, calibration, source)
    if source.is_dir():
        files = sorted(path for path in source.iterdir() if path.suffix.lower() == ".json" and path.is_file())
        if not files:
            raise ValueError(f"{source}: no *.json files (expected OpenPose output, one file per image)")
        read, skipped = _read_files(files, skeleton, source)
    else:
        read, skipped = [(source, read_openpose(source, hands=_hands(skeleton)))], []
    return _single_view(read, skipped, camera, skeleton, source)


def _hands(skeleton: Skeleton) -> bool:
    return skeleton.num_joints > len(SKELETONS["body"].joints)


def _dataset_file(path: Path, skeleton: Skeleton, checkpoint: str) -> Detections:
    dataset = MultiViewDataset.load(path)
    if dataset.skeleton.num_joints != skeleton.num_joints:
        raise ValueError(
            f"{path.name}: skeleton {dataset.skeleton_name!r} has {dataset.skeleton.num_joints} joints, but "
            f"{Path(checkpoint).name} lifts {skeleton.num_joints} ({skeleton.name})"
        )
    sources = tuple(dataset.sequence_names[i] for i in dataset.sequence_index.tolist())
    return Detections(dataset, "world", torch.zeros(dataset.num_frames, dtype=torch.long), sources)


def _read_calibration(config: LiftConfig) -> Calibration | None:
    if config.calibration is None:
        return None
    if config.focal is not None or config.image_size is not None:
        raise ValueError("give either --calibration or --focal with --image-size, not both")
    return read_calibration(config.calibration, config.camera_type)


def _has_view_folders(root: Path, calibration: Calibration, camera_type: str) -> bool:
    return any(view_folder(root, name, camera_type).is_dir() for name in calibration.names)


def _single_view_camera(config: LiftConfig, calibration: Calibration | None, source: Path) -> Camera:
    """The camera (1,) of a single view: identity pose (the output is in its frame), K and lens as given."""
    if calibration is not None:
        index = _chosen_view(calibration, config)
        K, dist = calibration.cameras.K[index], calibration.cameras.dist[index]
    elif config.focal is not None and config.image_size is not None:
        K, dist = inference.pinhole_intrinsics(config.focal, *config.image_size), torch.zeros(5)
    else:
        given = "--focal without --image-size" if config.focal is not None else (
            "--image-size without --focal" if config.image_size is not None else "neither")
        raise ValueError(
            f"{source}: lifting a single view needs the camera's intrinsics K, and {given} was given: pass --focal F "
            f"and --image-size W H (pixels; principal point at the image centre), or --calibration FILE [--view NAME]"
        )
    return Camera(K[None], torch.eye(3, dtype=K.dtype)[None], torch.zeros(1, 3, dtype=K.dtype), dist[None])


def _chosen_view(calibration: Calibration, config: LiftConfig) -> int:
    if config.view is None:
        if len(calibration.names) == 1:
            return 0
        raise ValueError(
            f"{config.calibration}: has {len(calibration.names)} {config.camera_type} cameras; choose the one that "
            f"filmed {config.input} with --view (one of {', '.join(calibration.names)}), or give per-view folders"
        )
    if config.view not in calibration.names:
        raise ValueError(
            f"{config.calibration}: has no {config.camera_type} camera {config.view!r}; "
            f"it has {', '.join(calibration.names)}"
        )
    return calibration.names.index(config.view)


def _read_files(paths: list[Path], skeleton: Skeleton, folder: Path) -> tuple[list[tuple[Path, People]], list[dict]]:
    """Read OpenPose files, skipping (and reporting) those that fail; an error when none can be read."""
    read, skipped = [], []
    for path in tqdm(paths, desc="reading", unit="file"):
        try:
            read.append((path, read_openpose(path, hands=_hands(skeleton))))
        except (ValueError, OSError) as error:
            skipped.append({"file": str(path), "error": str(error)})
            tqdm.write(f"skipped {path}: {error}", file=sys.stderr)
    if not read:
        raise ValueError(
            f"{folder}: none of its {len(paths)} JSON files could be read as OpenPose output; first error: "
            f"{skipped[0]['error']}"
        )
    return read, skipped


def frame_numbers(names: list[str]) -> list[int]:
    """File names (N) -> frame numbers (N): the digits ending each name, or the place in the list if any lacks them
    or two share a number."""
    matches = [_FRAME_NUMBER.search(name) for name in names]
    numbers = [int(match[1]) for match in matches if match]
    if len(numbers) == len(names) and len(set(numbers)) == len(numbers):
        return numbers
    return list(range(len(names)))


def _single_view(
    read: list[tuple[Path, People]], skipped: list[dict], camera: Camera, skeleton: Skeleton, source: Path
) -> Detections:
    """One row per person per file (a file with nobody: one row, absent), as a one-view dataset."""
    numbers = frame_numbers([path.name for path, _ in read])
    rows = [(number, path.name, person, people) for number, (path, people) in zip(numbers, read)
            for person in range(max(len(people.confidence), 1))]  # fmt: skip
    joints = skeleton.num_joints
    keypoints = torch.zeros(len(rows), 1, joints, 2)
    confidence = torch.zeros(len(rows), 1, joints)
    for row, (_, _, person, people) in enumerate(rows):
        if len(people.confidence):
            keypoints[row, 0], confidence[row, 0] = people.keypoints[person], people.confidence[person]
    present = torch.tensor([len(people.confidence) > 0 for *_, people in rows]).unsqueeze(1)
    frames = torch.tensor([row[0] for row in rows], dtype=torch.long)
    dataset = _detections_dataset(keypoints, confidence, present, camera, frames, skeleton, source.name)
    people = torch.tensor([row[2] for row in rows], dtype=torch.long)
    return Detections(dataset, "camera", people, tuple(row[1] for row in rows), skipped)


def _view_folders(root: Path, calibration: Calibration, skeleton: Skeleton, camera_type: str) -> Detections:
    """Per-view folders -> one row per frame number, the most confident person of each view; unlike
    ``openpose.read_openpose_views`` an unreadable file is reported and skipped, not fatal."""
    views = [view_frames(view_folder(root, name, camera_type)) for name in calibration.names]
    frames = sorted(set().union(*views))
    if not frames:
        raise ValueError(f"{root}: its view folders hold no *_keypoints.json files")
    read, skipped = _read_files([path for files in views for path in files.values()], skeleton, root)
    by_path = dict(read)
    people = [{frame: by_path[path] for frame, path in files.items() if path in by_path} for files in views]
    keypoints, confidence, view_mask = most_confident_views(people, frames, skeleton.num_joints)
    frame_ids = torch.tensor(frames, dtype=torch.long)
    dataset = _detections_dataset(keypoints, confidence, view_mask, calibration.cameras, frame_ids, skeleton, root.name)
    return Detections(dataset, "world", torch.zeros(len(frames), dtype=torch.long), (root.name,) * len(frames), skipped)


def _detections_dataset(
    keypoints: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera, frame_ids: Tensor, skeleton: Skeleton,
    name: str,
) -> MultiViewDataset:
    """Detections (F, C, J, 2), (F, C, J), (F, C) filmed by cameras (C,) -> a one-sequence dataset without 3D."""
    frames = keypoints.shape[0]
    index = torch.zeros(frames, dtype=torch.long)
    return MultiViewDataset(
        skeleton.name, keypoints, confidence, view_mask, cameras.to(keypoints.dtype)[None], index, index, frame_ids,
        (name,), ("unknown",), torch.full((frames, skeleton.num_joints, 3), math.nan),
        {"name": name, "source": "openpose", "detections": "openpose"},
    )  # fmt: skip


def result_header(result: LiftResult, provenance: dict) -> dict:
    """The output's fields other than the rows (see the module docstring)."""
    skeleton = result.skeleton
    return {
        "format": OUTPUT_FORMAT, "version": OUTPUT_VERSION, "units": "mm", "coordinate_frame": result.coordinate_frame,
        "skeleton": skeleton.name, "joint_names": list(skeleton.joints), "root_joint": skeleton.joints[skeleton.root],
        **provenance, "statuses": list(inference.STATUSES), "skipped_files": result.skipped_files,
        "summary": result.summary(),
    }  # fmt: skip


def write_result(path: Path, result: LiftResult, provenance: dict) -> None:
    """Write the result as JSON or NPZ (by the extension), atomically."""
    header = result_header(result, provenance)
    status = [inference.STATUSES[code] for code in result.status.tolist()]
    if path.suffix.lower() == ".json":
        rows = [
            {"frame": frame, "person": person, "source": source, "status": state, "views": views,
             "pose": _json_numbers(pose, 2), "uncertainty_mm": _json_numbers(spread, 2)}
            for frame, person, source, state, views, pose, spread in zip(
                result.frame.tolist(), result.person.tolist(), result.sources, status, result.views.tolist(),
                result.poses.tolist(), result.uncertainty.tolist())
        ]  # fmt: skip
        write_text_atomic(path, json.dumps(header | {"frames": rows}))
        return
    arrays = {
        "frame": result.frame.numpy(), "person": result.person.numpy(), "source": np.array(result.sources, dtype=str),
        "status": np.array(status, dtype=str), "views": result.views.numpy(), "poses": result.poses.numpy(),
        "uncertainty_mm": result.uncertainty.numpy(),
    }  # fmt: skip
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, header=np.array(json.dumps(header)), **arrays)


def _json_numbers(values: list, digits: int) -> list | None:
    """Nested lists of floats rounded to ``digits``, or None when any is NaN (a row without that value)."""
    flat = np.asarray(values, dtype=float)
    if not np.isfinite(flat).all():
        return None
    return np.round(flat, digits).tolist()


def _plotted_rows(result: LiftResult, count: int) -> list[int]:
    """Up to ``count`` lifted rows spread evenly over the run."""
    lifted = torch.nonzero(result.status == inference.OK).squeeze(1).tolist()
    if len(lifted) <= count:
        return lifted
    return [lifted[round(i * (len(lifted) - 1) / max(count - 1, 1))] for i in range(count)]


def _upright(pose: Tensor) -> Tensor:
    """(J, 3) -> (J, 3) as (x, z, −y): both the camera frame and Panoptic's world have y pointing down."""
    return torch.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], -1)


def write_plots(output: Path, result: LiftResult, count: int = 4) -> tuple[Path, ...]:
    """A matplotlib PNG and a plotly HTML (plotly.js from its CDN: ~10 kB + the poses) of a few lifted rows, beside
    ``output``; nothing when no row was lifted. Returns the paths written."""
    rows = _plotted_rows(result, count)
    if not rows:
        return ()
    png, html = output.with_suffix(".png"), output.with_suffix(".html")
    _plot_png(png, result, rows)
    _plot_html(html, result, rows)
    return png, html


def _row_title(result: LiftResult, row: int) -> str:
    return f"frame {int(result.frame[row])} person {int(result.person[row])}"


def _plot_png(path: Path, result: LiftResult, rows: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(4 * len(rows), 4.5))
    for i, row in enumerate(rows):
        axes = figure.add_subplot(1, len(rows), i + 1, projection="3d")
        pose = _upright(result.poses[row]).numpy()
        for parent, child in result.skeleton.bones:
            axes.plot(*pose[[parent, child]].T, color="tab:blue")
        axes.scatter(*pose.T, s=6, color="tab:red")
        axes.set_title(_row_title(result, row))
        axes.set_xlabel("x (mm)"), axes.set_ylabel("z (mm)"), axes.set_zlabel("−y (mm)")
        axes.set_aspect("equal")
    figure.suptitle(f"lifted poses, {result.coordinate_frame} frame")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=80)
    plt.close(figure)


def _plot_html(path: Path, result: LiftResult, rows: list[int]) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(1, len(rows), specs=[[{"type": "scene"}] * len(rows)],
                           subplot_titles=[_row_title(result, row) for row in rows])  # fmt: skip
    for i, row in enumerate(rows):
        pose = _upright(result.poses[row]).numpy()
        # one trace per pose: bones as segments separated by None, so plotly does not join them
        bones = result.skeleton.bones
        segments = [[*pose[[parent, child], axis], None] for parent, child in bones for axis in range(3)]
        x, y, z = ([value for segment in segments[axis::3] for value in segment] for axis in range(3))
        figure.add_trace(go.Scatter3d(x=x, y=y, z=z, mode="lines+markers", name=_row_title(result, row)), 1, i + 1)
    figure.update_scenes(aspectmode="data", xaxis_title="x (mm)", yaxis_title="z (mm)", zaxis_title="−y (mm)")
    with atomic_path(path) as temporary:
        figure.write_html(temporary, include_plotlyjs="cdn")


def _summary_line(result: LiftResult) -> str:
    summary = result.summary()
    counts = ", ".join(f"{name} {count}" for name, count in summary["by_status"].items() if count)
    return (
        f"lifted {summary['by_status']['ok']} of {summary['rows']} rows ({counts}); skipped {summary['skipped_files']} "
        f"files; {summary['seconds']:.2f} s, {summary['frames_per_second']:.0f} frames/s, network "
        f"{summary['network_poses_per_second']:.0f} poses/s"
    )


def parse_arguments(argv: list[str] | None = None) -> LiftConfig:
    """Command-line arguments -> ``LiftConfig``."""
    parser = argparse.ArgumentParser(
        prog="python -m weakpose_lite.lift", description=__doc__.split("\n\n")[0],
        epilog="The output schema is in the docstring of weakpose_lite/lift.py.",
    )  # fmt: skip
    parser.add_argument("checkpoint", help="a training checkpoint (best.pt)")
    parser.add_argument("input", help="OpenPose JSON file or folder, per-view folders, or a dataset .npz")
    parser.add_argument("-o", "--output", required=True, help="poses file, .json or .npz")
    parser.add_argument("--calibration", help="Panoptic calibration JSON (one view's K and lens, or every view)")
    parser.add_argument("--view", help="the calibration's camera a single-view folder was filmed with, like 00_03")
    parser.add_argument("--camera-type", default="hd", help="camera type in the calibration and folder names")
    parser.add_argument("--focal", type=float, help="focal length in pixels (single view without calibration)")
    parser.add_argument("--image-size", type=float, nargs=2, metavar=("W", "H"), help="image size in pixels")
    parser.add_argument(
        "--min-visible-joints", type=int, help="fewer detected joints: not lifted (default: the training's)"
    )
    parser.add_argument("--batch-size", type=int, default=8192, help="poses per network call")
    parser.add_argument("--plot", action="store_true", help="also write a PNG and an HTML of a few frames")
    parser.add_argument("--plot-frames", type=int, default=4, help="how many frames to plot")
    arguments = vars(parser.parse_args(argv))
    if arguments["image_size"] is not None:
        arguments["image_size"] = tuple(arguments["image_size"])
    return LiftConfig(**arguments)


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 on success, 1 with the error on stderr (and no output file) on failure."""
    config = parse_arguments(argv)
    try:
        lift(config)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
