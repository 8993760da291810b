#!/usr/bin/env python
"""Build weakpose-lite datasets (one ``<split>.npz`` per split) from downloaded CMU Panoptic sequences.

Thin over ``weakpose_lite.data.build``: whole sequences go to train / validation / test (from ``--split-file`` or
about 80/10/10), 3D groundtruth in COCO-18 (plus hands when every sequence has them), 2D from OpenPose output in
``<seq>/openpose/`` when present, else simulated from the 3D groundtruth. Panoptic data is for non-commercial
research only.

A bad flag, list, split file or sequence folder is one line ``error: ...`` on stderr and exit status 2, before
anything is written (``--debug`` shows the traceback). The splits are built into a temporary folder beside ``--out``
and replace its split files only when every one is built: a build that fails halfway leaves the previous one intact.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from download_panoptic import DEFAULT_LIST, check_sequence_name, read_sequence_list  # the sibling script

from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.data.build import (
    SKELETON_CHOICES,
    BuildConfig,
    all_train_note,
    build_datasets,
    check_sequence_folders,
    check_unique_sequences,
    choose_skeleton,
    detections_source,
    split_plan,
)
from weakpose_lite.data.dataset import MultiViewDataset, split_path


def _sequence_name(text: str) -> str:
    """An argparse type: a plain folder name (no path), as ``download_panoptic`` requires."""
    try:
        return check_sequence_name(text, "each name")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; its defaults are those of ``BuildConfig``, which checks the values."""
    defaults = {field.name: field.default for field in fields(BuildConfig)}
    parser = CommandParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/generated/panoptic"), help="downloaded sequences")
    parser.add_argument("--out", type=Path, default=Path("data/generated/datasets"), help="folder for the .npz files")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--sequences", nargs="+", metavar="SEQ", type=_sequence_name,
                        help="sequence names (default: --list)")  # fmt: skip
    chosen.add_argument("--list", type=Path, help=f"file of sequence names (default {DEFAULT_LIST.name})")
    parser.add_argument("--split-file", type=Path, help="'<sequence> <train|validation|test>' per line")
    parser.add_argument("--skeleton", choices=SKELETON_CHOICES, default=defaults["skeleton"])
    parser.add_argument("--camera-type", default=defaults["camera_type"], help="calibration camera type (hd, vga)")
    parser.add_argument("--body-id", type=int, default=defaults["body_id"], help="body to keep (default: the first)")
    parser.add_argument("--min-confidence", type=float, default=defaults["min_confidence"],
                        help="3D joints at or below it are unknown, in [0, 1]")  # fmt: skip
    parser.add_argument("--seed", type=int, default=defaults["seed"], help="split shuffle and simulated noise")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the sequence folders and print the plan; read no frame, write nothing")  # fmt: skip
    return parser.parse_args(argv)


def chosen_sequences(arguments: argparse.Namespace) -> list[str]:
    """The sequence names asked for, each once (a name listed twice is an error naming where it came from)."""
    if arguments.sequences:
        check_unique_sequences(arguments.sequences, "--sequences")
        return arguments.sequences
    path = arguments.list or DEFAULT_LIST
    sequences = read_sequence_list(path)
    check_unique_sequences(sequences, path.name)
    return sequences


def print_plan(arguments: argparse.Namespace, sequences: list[str], plan: dict[str, list[str]], skeleton: str) -> None:
    """The skeleton, each split's sequences and where each goes, and the file each non-empty split will be."""
    print(f"skeleton: {skeleton}")
    note = all_train_note(sequences, arguments.split_file)
    if note:
        print(f"note: {note}")
    for split, names in plan.items():
        if names:
            described = ", ".join(f"{name} ({detections_source(arguments.root / name)})" for name in names)
            print(f"{split}: {described} -> {split_path(arguments.out, split)}")
        else:
            print(f"{split}: none (no file written)")


def print_written(split: str, dataset: MultiViewDataset, path: Path) -> None:
    """One split's file and its summary: frames, views per frame, missing joints, OpenPose or simulated 2D."""
    print(f"built {split}: {path}")
    print(f"  {dataset.summary()}")


def build(argv: list[str]) -> None:
    """Check the inputs and print the plan, then build and save every non-empty split unless ``--dry-run``."""
    arguments = parse_arguments(argv)
    config = BuildConfig(
        camera_type=arguments.camera_type,
        skeleton=arguments.skeleton,
        body_id=arguments.body_id,
        min_confidence=arguments.min_confidence,
        seed=arguments.seed,
    )
    sequences = chosen_sequences(arguments)
    plan = split_plan(sequences, arguments.split_file, config)
    check_sequence_folders(arguments.root, sequences)
    print_plan(arguments, sequences, plan, choose_skeleton([arguments.root / name for name in sequences], config))
    if not arguments.dry_run:
        build_datasets(arguments.root, arguments.out, sequences, arguments.split_file, config, print_written)


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when built (or planned), 2 with one line ``error: ...`` for a bad flag or input."""
    return run_command(build, argv)


if __name__ == "__main__":
    sys.exit(main())
