#!/usr/bin/env python
"""What differs between the splits of a dataset: a table per split of the people, their motion, the views and the
detections, to read the gap between validation and test errors against.

    python studies/split_report.py                          # the main job's default synthetic set
    python studies/split_report.py --synthetic-size tiny    # a small set, in seconds
    python studies/split_report.py --dataset data/generated/datasets   # a built dataset folder

A diagnostic of the data, not of a model: it reads the 3D groundtruth (never the weakly-supervised path does). Rows:
subjects and frames; the people's size (median shoulder-to-ankle length of each subject, mm); motion (the root's
median speed, mm/s at the set's frame rate; its range over a sequence, the largest distance from the sequence's
mean position, mm; the joints' median speed about the root, mm/s); how far each pose is from the training split
(the MPJPE, root-relative, to its nearest training pose, median and 90th percentile over up to ``--poses`` poses of
the split against up to 4× as many training poses; the training split against itself leaves the same frame's
sequence out); the views per frame; the detections (the share of a present view's joints missing; the pixel error
of the detected ones against the groundtruth's projection through the lens: median, and the shares beyond 20 px, a
heavy tail, and 100 px, gross errors such as a swapped or snapped limb); and the person's distance to the cameras
(the root's depth in each present view, median, m). The table goes to stdout as markdown; ``--output`` also writes
it to a file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.cameras import project, world_to_camera
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.data.dataset import SPLITS, MultiViewDataset, load_splits
from weakpose_lite.files import write_text_atomic
from weakpose_lite.reproduce import ReproduceConfig, read_splits
from weakpose_lite.skeleton import to_relative

HEAVY_TAIL_PX, GROSS_PX = 20.0, 100.0
SIZE_JOINTS = (("left_shoulder", "left_ankle"), ("right_shoulder", "right_ankle"))


def subject_sizes(data: MultiViewDataset) -> Tensor:
    """(subjects,) each subject's median shoulder-to-ankle length in mm, both sides."""
    names = data.skeleton.joints
    lengths = torch.stack([(data.points_3d[:, names.index(a)] - data.points_3d[:, names.index(b)]).norm(dim=-1)
                           for a, b in SIZE_JOINTS], -1)  # fmt: skip
    return torch.stack([lengths[data.subject_index == s].nanmedian() for s in data.subject_index.unique()])


def motion(data: MultiViewDataset, fps: float) -> dict[str, Tensor]:
    """Root speed (mm/s) and joints' speed about the root (mm/s) between consecutive frames of a sequence, and
    each sequence's range (mm: largest distance of the root from its mean position)."""
    root = data.points_3d[:, data.skeleton.root]
    relative = to_relative(data.points_3d, data.skeleton.root)
    same_sequence = data.sequence_index[1:] == data.sequence_index[:-1]
    root_speed = (root[1:] - root[:-1]).norm(dim=-1)[same_sequence] * fps
    joint_speed = (relative[1:] - relative[:-1]).norm(dim=-1)[same_sequence].nanmedian(dim=-1).values * fps
    ranges = torch.stack([_largest_distance(root[data.sequence_index == s]) for s in data.sequence_index.unique()])
    return {"root_speed": root_speed, "joint_speed": joint_speed, "range": ranges}


def _largest_distance(points: Tensor) -> Tensor:
    """() the largest distance of points (T, 3) from their mean, NaN points left out."""
    distances = (points - points.nanmean(0)).norm(dim=-1)
    return distances[~distances.isnan()].max()


def nearest_training_pose(poses: Tensor, sequences: Tensor, train: Tensor, train_sequences: Tensor,
                          same_split: bool) -> Tensor:  # fmt: skip
    """(P,) root-relative MPJPE (mm) of each pose (P, J, 3) to its nearest training pose (T, J, 3); with
    ``same_split``, a pose's own sequence is left out (its neighbouring frames would be its nearest)."""
    nearest = []
    for pose, sequence in zip(poses.split(64), sequences.split(64)):
        errors = (pose[:, None] - train[None]).norm(dim=-1).nanmean(dim=-1)  # (64, T)
        if same_split:
            errors = errors.masked_fill(sequence[:, None] == train_sequences[None], float("inf"))
        nearest.append(errors.min(dim=1).values)
    return torch.cat(nearest)


def detection_errors(data: MultiViewDataset) -> tuple[Tensor, Tensor]:
    """Pixel errors (N,) of the detected joints of present views against the groundtruth's projection, and the
    share of a present view's joints that are missing."""
    cameras = data.cameras[data.sequence_index]
    truth = project(data.points_3d[:, None], cameras)  # (F, C, J, 2)
    detected = data.visible & torch.isfinite(truth).all(-1)
    errors = (data.keypoints_2d - truth).norm(dim=-1)[detected]
    present = data.view_mask[..., None].expand_as(data.confidence)
    return errors, (data.confidence[present] <= 0).float().mean()


def camera_distances(data: MultiViewDataset) -> Tensor:
    """(N,) the root's depth (m) in each present view."""
    cameras = data.cameras[data.sequence_index]
    root = data.points_3d[:, None, data.skeleton.root : data.skeleton.root + 1].expand(-1, data.num_views, -1, -1)
    depth = world_to_camera(root, cameras.R, cameras.t)[..., 0, 2]
    return depth[data.view_mask] / 1000


def _sample(count: int, most: int, seed: int) -> Tensor:
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:most]


def report(splits: dict[str, MultiViewDataset], poses: int, seed: int = 0) -> str:
    """The markdown table: one column per split."""
    fps = float(splits["train"].metadata.get("fps", 30.0))
    train = splits["train"]
    train_rows = _sample(train.num_frames, 4 * poses, seed)
    train_poses = to_relative(train.points_3d[train_rows].double(), train.skeleton.root)
    columns = {}
    for split in SPLITS:
        data = splits[split]
        rows = _sample(data.num_frames, poses, seed + 1)
        nearest = nearest_training_pose(to_relative(data.points_3d[rows].double(), data.skeleton.root),
                                        data.sequence_index[rows], train_poses, train.sequence_index[train_rows],
                                        same_split=split == "train")  # fmt: skip
        moving = motion(data, fps)
        errors, missing = detection_errors(data)
        sizes = subject_sizes(data)
        columns[split] = [
            f"{len(data.subject_names)} / {data.num_frames:,}",
            f"{sizes.median():.0f} ({sizes.min():.0f}–{sizes.max():.0f})",
            f"{moving['root_speed'].nanmedian():.0f}", f"{moving['range'].median():.0f}",
            f"{moving['joint_speed'].nanmedian():.0f}",
            f"{nearest.median():.0f} / {nearest.quantile(0.9):.0f}",
            f"{data.view_mask.sum(1).float().mean():.1f}",
            f"{100 * missing:.1f}", f"{errors.median():.1f}",
            f"{100 * (errors > HEAVY_TAIL_PX).float().mean():.2f}", f"{100 * (errors > GROSS_PX).float().mean():.2f}",
            f"{camera_distances(data).median():.2f}",
        ]  # fmt: skip
    labels = [
        "subjects / frames", "size: shoulder–ankle, mm, median (range over subjects)", "root speed, mm/s (median)",
        "root range in a sequence, mm (median)", "joints' speed about the root, mm/s (median)",
        "nearest training pose, MPJPE mm (median / 90%)", "views per frame (mean)", "joints missing, %",
        "detection error, px (median)", f"detections > {HEAVY_TAIL_PX:.0f} px, %", f"detections > {GROSS_PX:.0f} px, %",
        "distance to the cameras, m (median)",
    ]  # fmt: skip
    lines = ["| | " + " | ".join(SPLITS) + " |", "| --- |" + " --- |" * len(SPLITS)]
    lines += [f"| {label} | " + " | ".join(columns[split][k] for split in SPLITS) + " |" for k, label in enumerate(labels)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--synthetic-size", choices=("tiny", "default"), default="default", help="the synthetic set")
    parser.add_argument("--dataset", type=Path, default=None, help="a built dataset folder instead (train/validation/test.npz)")
    parser.add_argument("--poses", type=int, default=1000, help="poses per split in the nearest-pose search")
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this markdown file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag or dataset."""
    return run_command(_report, argv)


def _report(argv: list[str]) -> None:
    arguments = build_parser().parse_args(argv)
    if arguments.poses < 1:
        raise ValueError(f"--poses must be at least 1, got {arguments.poses}")
    if arguments.dataset is not None:
        splits, name = load_splits(arguments.dataset), str(arguments.dataset)
    else:
        splits = read_splits(ReproduceConfig(synthetic_size=arguments.synthetic_size), "body")
        name = f"the synthetic {arguments.synthetic_size} set"
    text = f"Splits of {name} (studies/split_report.py)\n\n{report(splits, arguments.poses)}"
    print(text)
    if arguments.output is not None:
        write_text_atomic(arguments.output, text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
