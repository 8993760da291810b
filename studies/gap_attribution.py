#!/usr/bin/env python
"""Gap attribution: which part of the synthetic detections costs the weakly-supervised model what, against the
strongly-supervised one trained on the same detections.

    python studies/gap_attribution.py               # prints the plan (conditions, runs) and trains nothing
    python studies/gap_attribution.py --run --jobs 2
    python studies/gap_attribution.py --table       # the committed table, re-printed from its records
    python studies/gap_attribution.py --residuals   # the residuals the levers' values were chosen on

The detection model (``DetectionConfig``) is cut into five groups of fields: pixel noise; missing joints (random
misses, occlusion, and the extra noise of occluded joints); heavy tails; gross errors (swapped or snapped limbs);
the confidence (view quality, confidence noise, and the threshold below which a detection is dropped). Each
condition generates its own synthetic set (the default people, motion, dome and views, seed 0, only the detections
differ) and trains the main job's strong and weak models on it (``reproduce.QUICK_TRAINING``, λ = 0.8 in cm/px) with
each of ``--seeds``. Four chains of conditions:

- cumulative from noiseless: exact projections, then each group added in turn, up to the default detections;
- one at a time from the default: the default with one group set to its noiseless values;
- the views, with the default detections: 8 or all 31 views drawn per frame in training (both models), and a dome
  of 10 cameras instead of 31;
- levers beyond the paper (``LEVERS``), with the default data, on the weak objective only (the strong model is the
  default's): L_R weighted by the detections' confidence, L_R's residuals capped, Huber's δ; and one δ given to the
  strong objective too (``STRONG_TOO``). Their values were chosen on the lesson weak model's residuals on
  validation (``--residuals`` prints them), never on test.

Every model picks its checkpoint on validation (the weak one on its validation loss, no 3D) and is evaluated on its
condition's own validation and test splits; the table reports both models' test MPJPE and weak/strong on test (with
its range over the seeds), on test after Procrustes alignment and on validation (means over the seeds). Records go to
``--output`` (one JSON per run, named by its data and its configuration, so that conditions with the same run share
it; written atomically; a run with a record is skipped, so an interrupted study resumes), the table and every
condition's records to ``--tables`` (``studies/tables/gap_attribution.md`` and ``.json``, committed).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import fields, replace
from pathlib import Path
from typing import NamedTuple

import torch

from executors import map_runs, threads_per_run
from units_lambda import add_study_arguments, publish, quick_budget, run_name, train_and_evaluate
from weakpose_lite import losses
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.synthetic import SyntheticConfig, config_hash, load_or_make_synthetic
from weakpose_lite.data.synthetic.detections import DetectionConfig
from weakpose_lite.files import write_text_atomic
from weakpose_lite.metrics import PROTOCOL
from weakpose_lite.train import load_model, predict, sample_views
from weakpose_lite.views import make_views

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
# Changes to the weak objective beyond the paper, each a condition of its own. The caps sit near the 95th percentile
# of a trained weak model's L_R residuals and three times it, the δ below L_M's median residual, just above it, near
# its 90th percentile and beyond its 99th (``--residuals``, on validation).
LEVERS = {
    "lever: L_R weighted by confidence": {"reprojection_weights": "confidence"},
    "lever: L_R residuals capped at 50 px": {"reprojection_cap": 50.0},
    "lever: L_R residuals capped at 150 px": {"reprojection_cap": 150.0},
    "lever: Huber δ = 0.25 (cm, px)": {"huber_delta": 0.25},
    "lever: Huber δ = 4 (cm, px)": {"huber_delta": 4.0},
    "lever: Huber δ = 10 (cm, px)": {"huber_delta": 10.0},
    "lever: Huber δ = 30 (cm, px)": {"huber_delta": 30.0},
}
# A δ lever with the strong model's δ changed too (its residuals are in mm): 10 mm, and 100 mm (the weak L_M's 10 cm).
# Whether the lever helps the weak model only. Name -> (the strong model's δ, the weak model's).
STRONG_TOO = {
    "lever: Huber δ = 10 (cm, px), strong's δ = 10 mm": (10.0, 10.0),
    "lever: Huber δ = 10 (cm, px), strong's δ = 100 mm": (100.0, 10.0),
}
LESSON_WEAK_MODEL = Path("notebooks/checkpoints/weak.pt")  # the main job's weak model at the defaults


class Condition(NamedTuple):
    """The data, changes to both models' training, and changes to the weak model's alone."""

    data: SyntheticConfig
    training: dict
    weak: dict


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


def conditions() -> dict[str, Condition]:
    """Name -> ``Condition``: the detection chains (``detection_conditions``), then the views, with the default
    detections: 8 or all 31 views drawn per frame in training (16 by default), and a dome of 10 cameras instead of 31;
    then the ``LEVERS`` (the weak model's alone) and ``STRONG_TOO``."""
    default = SyntheticConfig()
    chains = {name: Condition(replace(default, detections=d), {}, {}) for name, d in detection_conditions().items()}
    views = {
        "views per frame: 8": Condition(default, {"views_per_frame": 8}, {}),
        "views per frame: all 31": Condition(default, {"views_per_frame": 31}, {}),
        "a dome of 10 cameras": Condition(replace(default, num_cameras=10), {}, {}),
    }
    levers = {name: Condition(default, {}, lever) for name, lever in LEVERS.items()}
    strong_too = {name: Condition(default, {"huber_delta": strong}, {"huber_delta": weak})
                  for name, (strong, weak) in STRONG_TOO.items()}  # fmt: skip
    return chains | views | levers | strong_too


def plan_runs(seeds: list[int]) -> list[tuple[str, SyntheticConfig, object]]:
    """(condition, data, ``TrainConfig``) of every run the table reads: each condition's strong and weak models at
    each seed (the weak model's own changes over those of both)."""
    return [(name, condition.data, quick_budget(mode=mode, seed=seed,
                                                **(condition.training | (condition.weak if mode == "weak" else {}))))
            for name, condition in conditions().items() for seed in seeds for mode in ("strong", "weak")]  # fmt: skip


def record_path(output: Path, data: SyntheticConfig, config) -> Path:
    """One record per (data, configuration): conditions that train the same model share it."""
    return output / f"{config_hash(data)}__{run_name(config)}.json"


def run_one(data: SyntheticConfig, config, output: Path, threads: int) -> dict:
    """Train one model on ``data``, evaluate it, write and return its record (read back if written)."""
    path = record_path(output, data, config)
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(threads)
    splits = load_or_make_synthetic(data, DATA_FOLDER)
    record = {"data": config_hash(data), "name": path.stem} | train_and_evaluate(config, splits)
    write_text_atomic(path, json.dumps(record, indent=1))
    return record


def residual_quantiles(checkpoint: Path, validation: MultiViewDataset, frames: int = 2000) -> str:
    """Markdown: quantiles of the weak objective's residuals (L_M in cm, L_R in px) of the weak model saved at
    ``checkpoint`` on the first ``frames`` trainable frames of ``validation`` (16 views drawn per frame, seed 0):
    what the levers' values are chosen on."""
    model, config = load_model(checkpoint)
    views = make_views(validation, False, config.min_visible_joints)
    chosen = views.trainable_frames[:frames]
    batch = views[chosen, sample_views(views.usable[chosen], config.views_per_frame, torch.Generator().manual_seed(0))]
    with torch.no_grad():
        residuals = losses.weak_residuals(predict(model.eval(), batch), batch, batch, config.loss, "perspective", model.stats)
    levels = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
    lines = ["| residual | " + " | ".join(f"{level:.0%}" for level in levels) + " |", "|---" * (len(levels) + 1) + "|"]
    for label, values, counted in (("L_M, cm", residuals.multiview, residuals.multiview_counted),
                                   ("L_R, px", residuals.reprojection, residuals.reprojection_counted)):  # fmt: skip
        quantiles = torch.quantile(values[counted].double(), torch.tensor(levels, dtype=torch.float64))
        lines.append(f"| {label} | " + " | ".join(f"{q:.1f}" for q in quantiles.tolist()) + " |")
    return f"{checkpoint} on {len(chosen)} validation frames:\n\n" + "\n".join(lines)


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
    parser.add_argument("--residuals", action="store_true",
                        help=f"print the quantiles of {LESSON_WEAK_MODEL}'s residuals on validation; train nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag (``--debug``: the traceback)."""
    return run_command(_study, argv)


def _study(argv: list[str]) -> None:
    arguments = build_parser().parse_args(argv)
    if arguments.table:
        print((arguments.tables / f"{TABLE}.md").read_text(), end="")
        return
    if arguments.residuals:
        print(residual_quantiles(LESSON_WEAK_MODEL, load_or_make_synthetic(SyntheticConfig(), DATA_FOLDER)["validation"]))
        return
    if not detection_groups_cover_noiseless():
        raise ValueError("GROUPS must hold exactly the DetectionConfig fields that noiseless() changes")
    plan = plan_runs(arguments.seeds)
    runs = {record_path(arguments.output, data, config): (data, config) for _, data, config in plan}
    missing = {path: run for path, run in runs.items() if not path.exists()}
    if not arguments.run:
        print(f"would train {len(missing)} of {len(runs)} runs into {arguments.output} ({len(conditions())} conditions "
              f"× seeds {arguments.seeds} × strong and weak, runs shared between conditions trained once):")  # fmt: skip
        for path in missing:
            print(f"  {path.stem}")
        print("add --run to train them (python studies/gap_attribution.py --help for the options)")
        return
    arguments.output.mkdir(parents=True, exist_ok=True)
    print(f"{len(runs) - len(missing)} of {len(runs)} runs already finished in {arguments.output}; training {len(missing)}",
          flush=True)  # fmt: skip
    for data in {config_hash(data): data for data, _ in missing.values()}.values():
        load_or_make_synthetic(data, DATA_FOLDER)  # each set generated once, before the runs read it
    threads = threads_per_run(arguments)
    map_runs(run_one, [(data, config, arguments.output, threads) for data, config in missing.values()], arguments)
    records = [{"condition": condition} | json.loads(record_path(arguments.output, data, config).read_text())
               for condition, data, config in plan]
    text = f"Study `{TABLE}` (`python studies/gap_attribution.py {' '.join(argv)}`)\n{PROTOCOL}\n\n{table(records)}"
    publish(arguments.tables, TABLE, text, records)


if __name__ == "__main__":
    raise SystemExit(main())
