#!/usr/bin/env python
"""Body + hands: where the error of Table 2's second row comes from, from the results files of a body_hands run.

    python -m weakpose_lite.reproduce --skeleton body_hands --output results/reproduce_hands   # the models
    python studies/hands_report.py results/reproduce_hands                                     # this table

For the strong and the weak model: the mean MPJPE over every valid joint (Table 2's figure), the mean over the body
joints and over the hand joints, the hand joints' share of the sum of errors, and the hands by place in the finger
(the hand's wrist keypoint, then the four joints of each finger from knuckle to tip); beside it, the paper's row and
the hand-joint mean it implies if its figure averages the same joints (the paper does not say which it averages).
The protocol line of the results files says what is measured (root-relative to the neck, the neck excluded).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from weakpose_lite import paper
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.files import write_text_atomic
from weakpose_lite.results import load_results

MODELS = ("strong", "weak")


def joint_groups(joints: list[str], root: str = "neck") -> dict[str, list[int]]:
    """Indices of the body joints (the root left out, as the metric leaves it out), of the hand joints, and of the
    hand joints by place: the hands' wrist keypoints, then each finger's 1st to 4th joint (4th = tip)."""
    hand = [k for k, name in enumerate(joints) if "_hand_" in name]
    groups = {"body": [k for k, name in enumerate(joints) if "_hand_" not in name and name != root], "hands": hand}
    groups["hands: wrist keypoint"] = [k for k in hand if joints[k].endswith("_wrist")]
    for place in range(1, 5):
        groups[f"hands: finger joint {place}" + (" (tip)" if place == 4 else "")] = [
            k for k in hand if joints[k].endswith(f"_{place}")
        ]
    return groups


def report(folder: Path) -> str:
    """The markdown table of the strong and weak results files in ``folder``."""
    records = {model: load_results(folder / f"{model}.json") for model in MODELS}
    joints = records["strong"]["joints"]
    if records["strong"]["skeleton"] != "body_hands":
        raise ValueError(f"{folder / 'strong.json'}: skeleton must be body_hands, got {records['strong']['skeleton']!r}")
    groups = joint_groups(joints)
    per_joint = {m: torch.tensor([float("nan") if v is None else v for v in r["evaluation"]["per_joint_mpjpe_mm"]])
                 for m, r in records.items()}  # fmt: skip
    lines = ["| | " + " | ".join(MODELS) + " |", "| --- |" + " --- |" * len(MODELS)]
    lines.append("| mean MPJPE, every valid joint (Table 2) | " + " | ".join(
        f"{records[m]['evaluation']['mpjpe_mm']:.1f}" for m in MODELS) + " |")  # fmt: skip
    for name, indices in groups.items():
        cells = [f"{per_joint[m][indices].nanmean():.1f} ({len(indices)} joints)" for m in MODELS]
        lines.append(f"| mean of the {name} | " + " | ".join(cells) + " |")
    shares = [f"{100 * per_joint[m][groups['hands']].nansum() / per_joint[m][groups['body'] + groups['hands']].nansum():.0f}"
              for m in MODELS]  # fmt: skip
    lines.append("| hand joints' share of the summed error, % | " + " | ".join(shares) + " |")
    body, both = paper.TABLE_2_MPJPE_MM["body"], paper.TABLE_2_MPJPE_MM["body_hands"]
    count_body, count_hands = len(groups["body"]), len(groups["hands"])
    implied = [(both[m] * (count_body + count_hands) - body[m] * count_body) / count_hands for m in MODELS]
    lines.append("| paper: body / body + hands (Table 2) | " + " | ".join(
        f"{body[m]:.1f} / {both[m]:.1f}" for m in MODELS) + " |")  # fmt: skip
    lines.append(f"| paper: hand-joint mean implied, if its {count_body + count_hands} joints are averaged alike | "
                 + " | ".join(f"{value:.1f}" for value in implied) + " |")  # fmt: skip
    return "\n".join(lines) + f"\n\n{records['strong']['protocol']}"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("folder", type=Path, nargs="?", default=Path("results/reproduce_hands"),
                        help="a body_hands run's output folder (strong.json, weak.json)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this markdown file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag or results file."""
    return run_command(_report, argv)


def _report(argv: list[str]) -> None:
    arguments = build_parser().parse_args(argv)
    text = f"Body + hands, by joint group ({arguments.folder}; studies/hands_report.py)\n\n{report(arguments.folder)}"
    print(text)
    if arguments.output is not None:
        write_text_atomic(arguments.output, text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
