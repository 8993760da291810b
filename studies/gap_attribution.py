#!/usr/bin/env python
"""Gap attribution: which part of the synthetic detections costs the weakly-supervised model what, against the
strongly-supervised one trained on the same detections.

    python studies/gap_attribution.py               # prints the plan (conditions, runs) and trains nothing
    python studies/gap_attribution.py --run --jobs 2
    python studies/gap_attribution.py --table       # the committed table, re-printed from its records

The detection model (``DetectionConfig``) is cut into five groups of fields: pixel noise; missing joints (random
misses, occlusion, and the extra noise of occluded joints); heavy tails; gross errors (swapped or snapped limbs);
the confidence (view quality, confidence noise, and the threshold below which a detection is dropped). Each
condition generates its own synthetic set (the default people, motion, dome and views, seed 0, only the detections
differ) and trains the main job's strong and weak models on it (``reproduce.QUICK_TRAINING``, λ = 0.8 in cm/px) with
each of ``--seeds``. Three chains of conditions:

- cumulative from noiseless: exact projections, then each group added in turn, up to the default detections;
- one at a time from the default: the default with one group set to its noiseless values;
- the views, with the default detections: 8 or all 31 views drawn per frame in training (both models), and a dome
  of 10 cameras instead of 31.

Every model picks its checkpoint on validation (the weak one on its validation loss, no 3D) and is evaluated on its
condition's own validation and test splits; the table reports both models' test MPJPE and weak/strong on test (with
its range over the seeds), on test after Procrustes alignment and on validation (means over the seeds). Records go to
``--output`` (one JSON per run, written atomically; a run with a record is skipped, so an interrupted study resumes),
the table and every record to ``--tables`` (``studies/tables/gap_attribution.md`` and ``.json``, committed).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import fields, replace
from pathlib import Path

import torch

from executors import map_runs, threads_per_run
from units_lambda import add_study_arguments, publish, quick_budget, run_name, train_and_evaluate
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.data.synthetic import SyntheticConfig, config_hash, load_or_make_synthetic
from weakpose_lite.data.synthetic.detections import DetectionConfig
from weakpose_lite.files import write_text_atomic
from weakpose_lite.metrics import PROTOCOL

TABLE = "gap_attribution"
SEEDS = (0, 1)
DATA_FOLDER = Path("results/data")  # the main job's cache: the default set is shared with it
# The fields of each failure mode, in the order the cumulative chain adds them; together they are exactly the fields
# that DetectionConfig.noiseless() changes (checked by detection_groups_cover_noiseless).
GROUPS = {
    "pixel noise": ("noise_floor_px", "noise_relative"),
    "missing joints": ("miss_rate", "hard_joint_miss_rate", "hand_miss_rate", "hand_dropout_rate", "occluded_miss_rate",
                       "occluded_noise_scale"),
    "heavy tails": ("heavy_tail_rate",),
    "gross errors": ("gross_error_rate",),
    "confidence": ("view_quality", "confidence_noise", "confidence_threshold"),
}  # fmt: skip


def detections_with(groups: tuple[str, ...]) -> DetectionConfig:
    """The noiseless detections with the default's values for the fields of ``groups``."""
    default = DetectionConfig()
    return replace(DetectionConfig.noiseless(), **{f: getattr(default, f) for group in groups for f in GROUPS[group]})


def detection_groups_cover_noiseless() -> bool:
    """True when the groups hold exactly the fields in which the noiseless detections differ from the default."""
    default, noiseless = DetectionConfig(), DetectionConfig.noiseless()
    changed = {f.name for f in fields(DetectionConfig) if getattr(default, f.name) != getattr(noiseless, f.name)}
    grouped = [name for names in GROUPS.values() for name in names]
    return changed == set(grouped) and len(grouped) == len(changed)


def detection_conditions() -> dict[str, DetectionConfig]:
    """Name -> detections: the cumulative chain from noiseless to the default, then the default less each group."""
    order = tuple(GROUPS)
    chain = {"noiseless": DetectionConfig.noiseless()}
    for k, group in enumerate(order):
        chain[f"+ {group}" + (" (= default)" if k == len(order) - 1 else "")] = detections_with(order[: k + 1])
    less = {f"default − {group}": detections_with(tuple(g for g in order if g != group)) for group in order}
    return chain | less


def conditions() -> dict[str, tuple[SyntheticConfig, dict]]:
    """Name -> (the data, changes to both models' training): the detection chains (``detection_conditions``), then
    the views, with the default detections: 8 or all 31 views drawn per frame in training (16 by default), and a
    dome of 10 cameras instead of 31."""
    default = SyntheticConfig()
    chains = {name: (replace(default, detections=d), {}) for name, d in detection_conditions().items()}
    views = {
        "views per frame: 8": (default, {"views_per_frame": 8}),
        "views per frame: all 31": (default, {"views_per_frame": 31}),
        "a dome of 10 cameras": (replace(default, num_cameras=10), {}),
    }
    return chains | views


def _slug(condition: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in condition).strip("_")


def record_path(output: Path, condition: str, config) -> Path:
    return output / f"{_slug(condition)}__{run_name(config)}.json"


def run_condition(condition: str, data: SyntheticConfig, config, output: Path, threads: int) -> dict:
    """Train one model on the condition's set, evaluate it, write and return its record (read back if written)."""
    path = record_path(output, condition, config)
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(threads)
    splits = load_or_make_synthetic(data, DATA_FOLDER)
    record = {"condition": condition, "name": path.stem} | train_and_evaluate(config, splits)
    write_text_atomic(path, json.dumps(record, indent=1))
    return record


def table(records: list[dict]) -> str:
    """Markdown: one row per condition (in the order of ``conditions``), seeds averaged."""
    lines = [
        "| condition | strong test MPJPE | weak test MPJPE | weak/strong test (range over seeds) | "
        "weak/strong test P-MPJPE | weak/strong validation |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for condition in conditions():
        runs = [r for r in records if r["condition"] == condition]
        if not runs:
            continue
        by_seed = {}
        for run in runs:
            by_seed.setdefault(run["config"]["seed"], {})[run["config"]["mode"]] = run
        test = [pair["weak"]["test"]["mpjpe_mm"] / pair["strong"]["test"]["mpjpe_mm"] for pair in by_seed.values()]
        validation = [pair["weak"]["validation"]["mpjpe_mm"] / pair["strong"]["validation"]["mpjpe_mm"]
                      for pair in by_seed.values()]  # fmt: skip
        aligned = [pair["weak"]["test"]["p_mpjpe_mm"] / pair["strong"]["test"]["p_mpjpe_mm"] for pair in by_seed.values()]
        strong = statistics.mean(pair["strong"]["test"]["mpjpe_mm"] for pair in by_seed.values())
        weak = statistics.mean(pair["weak"]["test"]["mpjpe_mm"] for pair in by_seed.values())
        lines.append(f"| {condition} | {strong:.1f} | {weak:.1f} | {statistics.mean(test):.3f} ({min(test):.3f}–"
                     f"{max(test):.3f}) | {statistics.mean(aligned):.3f} | {statistics.mean(validation):.3f} |")  # fmt: skip
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag with its default in ``--help``."""
    parser = CommandParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_study_arguments(parser, TABLE, "results/studies/gap", SEEDS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag (``--debug``: the traceback)."""
    return run_command(_study, argv)


def _study(argv: list[str]) -> None:
    arguments = build_parser().parse_args(argv)
    if arguments.table:
        print((arguments.tables / f"{TABLE}.md").read_text(), end="")
        return
    if not detection_groups_cover_noiseless():
        raise ValueError("GROUPS must hold exactly the DetectionConfig fields that noiseless() changes")
    plan = [(condition, data, quick_budget(mode=mode, seed=seed, **training))
            for condition, (data, training) in conditions().items() for seed in arguments.seeds
            for mode in ("strong", "weak")]  # fmt: skip
    missing = [run for run in plan if not record_path(arguments.output, run[0], run[2]).exists()]
    if not arguments.run:
        print(f"would train {len(missing)} of {len(plan)} runs into {arguments.output} ({len(conditions())} conditions "
              f"× seeds {arguments.seeds} × strong and weak):")  # fmt: skip
        for condition, _, config in missing:
            print(f"  {record_path(arguments.output, condition, config).stem}")
        print("add --run to train them (python studies/gap_attribution.py --help for the options)")
        return
    arguments.output.mkdir(parents=True, exist_ok=True)
    print(f"{len(plan) - len(missing)} of {len(plan)} runs already finished in {arguments.output}; training {len(missing)}",
          flush=True)  # fmt: skip
    for data in {config_hash(data): data for _, data, _ in missing}.values():
        load_or_make_synthetic(data, DATA_FOLDER)  # each set generated once, before the runs read it
    threads = threads_per_run(arguments)
    map_runs(run_condition, [(c, d, config, arguments.output, threads) for c, d, config in missing], arguments)
    records = [json.loads(record_path(arguments.output, c, config).read_text()) for c, _, config in plan]
    text = f"Study `{TABLE}` (`python studies/gap_attribution.py {' '.join(argv)}`)\n{PROTOCOL}\n\n{table(records)}"
    publish(arguments.tables, TABLE, text, records)


if __name__ == "__main__":
    raise SystemExit(main())
