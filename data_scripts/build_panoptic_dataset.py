#!/usr/bin/env python
"""Build weakpose-lite datasets (one ``<split>.npz`` per split) from downloaded CMU Panoptic sequences.

Thin over ``weakpose_lite.data.build``: whole sequences go to train / validation / test (from ``--split-file`` or
about 80/10/10), 3D groundtruth in COCO-18 (plus hands when every sequence has them), 2D from OpenPose output in
``<seq>/openpose/`` when present, else simulated from the 3D groundtruth. Panoptic data is for non-commercial
research only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from download_panoptic import DEFAULT_LIST, read_sequence_list  # the sibling script, on the path when run

from weakpose_lite.data.build import BuildConfig, build_datasets, choose_skeleton, detections_source, split_plan


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; its defaults are those of ``BuildConfig``."""
    defaults = {field.name: field.default for field in fields(BuildConfig)}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/generated/panoptic"), help="downloaded sequences")
    parser.add_argument("--out", type=Path, default=Path("data/generated/datasets"), help="folder for the .npz files")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--sequences", nargs="+", metavar="SEQ", help="sequence names (default: --list)")
    chosen.add_argument("--list", type=Path, help=f"file of sequence names (default {DEFAULT_LIST.name})")
    parser.add_argument("--split-file", type=Path, help="'<sequence> <train|validation|test>' per line")
    parser.add_argument("--skeleton", choices=("auto", "body", "body_hands"), default=defaults["skeleton"])
    parser.add_argument("--camera-type", default=defaults["camera_type"], help="calibration camera type (hd, vga)")
    parser.add_argument("--body-id", type=int, default=defaults["body_id"], help="body to keep (default: the first)")
    parser.add_argument("--min-confidence", type=float, default=defaults["min_confidence"], help="3D joint threshold")
    parser.add_argument("--seed", type=int, default=defaults["seed"], help="split shuffle and simulated noise")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, read and write nothing else")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print the plan, then build and save every non-empty split unless ``--dry-run``."""
    arguments = parse_arguments(argv)
    sequences = arguments.sequences or read_sequence_list(arguments.list or DEFAULT_LIST)
    config = BuildConfig(
        camera_type=arguments.camera_type,
        skeleton=arguments.skeleton,
        body_id=arguments.body_id,
        min_confidence=arguments.min_confidence,
        seed=arguments.seed,
    )
    plan = split_plan(sequences, arguments.split_file, config)
    print(f"skeleton: {choose_skeleton([arguments.root / name for name in sequences], config)}")
    for split, names in plan.items():
        described = ", ".join(f"{name} ({detections_source(arguments.root / name)})" for name in names) or "none"
        print(f"{split}: {described} -> {arguments.out / f'{split}.npz'}")
    if arguments.dry_run:
        return 0
    for split, path in build_datasets(arguments.root, arguments.out, sequences, arguments.split_file, config).items():
        print(f"wrote {split}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
