#!/usr/bin/env python
"""Units × λ: the same λ of Eq. 3 is good or bad depending on the units of L_M and L_R.

    python studies/units_lambda.py                  # the grid at the quick-run budget, then the finalists' 2nd seed
    python studies/units_lambda.py --budget         # λ = 0.8 in two units and strong, longer, with per-epoch curves
    python studies/units_lambda.py --levers warmup_fraction=0.05 detach_average=true   # one weak run per change
    python studies/units_lambda.py --curves budget_new budget_old   # the saved learning curves as one table

Every run trains on the kit's default synthetic set at the main job's budget (``ReproduceConfig``'s epochs, width,
dropout and frames per epoch unless overridden with ``--set``). A weak model picks its checkpoint on its validation
loss (no 3D, as in the main job); afterwards its *validation* MPJPE chooses among units and λ, and its test MPJPE
and bone-length ratio (mean predicted / true bone length, test split) are reported beside it, never used to choose.
The finalists (the best few by validation MPJPE, and λ = 0.8 in every unit) are trained again with a second seed.

Runs go to ``--output`` (one JSON each, reused when present, so an interrupted study resumes) in parallel processes
of one thread each; the table is printed as markdown and written with the records to ``studies/tables/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import torch

from weakpose_lite.files import write_text_atomic
from weakpose_lite.inference import MONITORED, evaluate, evaluation_monitor
from weakpose_lite.metrics import PROTOCOL
from weakpose_lite.model import ModelConfig
from weakpose_lite.reproduce import QUICK_TRAINING, ReproduceConfig, read_splits
from weakpose_lite.train import LOSS_UNITS, TrainConfig, train
from weakpose_lite.views import make_views

STUDY_UNITS = ("normalised", "mm", "mm_pixels", "cm_pixels")
STUDY_LAMBDAS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
RESULTS = Path(__file__).parent / "tables"


def quick_budget(**changes) -> TrainConfig:
    """The main job's training budget (``reproduce.QUICK_TRAINING``) on the CPU, with ``changes`` to any field of
    ``TrainConfig`` or of its ``ModelConfig``."""
    return _changed(replace(QUICK_TRAINING, device="cpu"), changes)


def _flat(config: TrainConfig) -> dict:
    """The config's fields with the model's among them, as one flat dict."""
    fields = asdict(config)
    return fields | fields.pop("model")


WEAK_ONLY = ("lam", "loss_units", "warmup_fraction", "detach_average", "reprojection_views", "output_statistics")


def changes(config: TrainConfig, base: TrainConfig | None = None) -> dict:
    """The fields in which ``config`` differs from ``base`` (default: the quick budget), besides its mode, λ and
    units (for a strong run, the weak-only fields aside too)."""
    base = _flat(base or quick_budget())
    ignored = ("mode", "lam", "loss_units") + (WEAK_ONLY if config.mode == "strong" else ())
    return {key: value for key, value in sorted(_flat(config).items()) if value != base[key] and key not in ignored}


def run_name(config: TrainConfig) -> str:
    """A file name that says what the run is and what differs from the quick budget."""
    label = "strong" if config.mode == "strong" else f"weak_{config.loss_units}_lam{config.lam}"
    return label + "".join(f"_{key}={value}" for key, value in changes(config).items())


def config_of(record: dict) -> TrainConfig:
    """The ``TrainConfig`` of a run's record."""
    fields = record["config"]
    return TrainConfig(**{**fields, "model": ModelConfig(**fields["model"])})


def _evaluation_summary(model, tensors, skeleton) -> dict:
    evaluation = evaluate(model, tensors, skeleton)
    return {key: evaluation[key] for key in MONITORED}


def run_one(config: TrainConfig, output: Path, curves: bool) -> dict:
    """Train one model (one thread), evaluate it on validation and test, write and return its record."""
    path = output / f"{run_name(config)}.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    splits = read_splits(ReproduceConfig(), "body")
    skeleton = splits["train"].skeleton
    validation = make_views(splits["validation"], with_targets=False)

    monitor = evaluation_monitor(validation, skeleton) if curves else None
    result = train(config, splits["train"], splits["validation"], epoch_metrics=monitor)
    record = {
        "name": run_name(config), "config": asdict(config), "best_epoch": result.best_epoch,
        "validation": _evaluation_summary(result.model, validation, skeleton),
        "test": _evaluation_summary(result.model, make_views(splits["test"], with_targets=False), skeleton),
        "history": result.history if curves else None, "threads": torch.get_num_threads(),
    }  # fmt: skip
    write_text_atomic(path, json.dumps(record, indent=1))
    return record


def run_all(configs: list[TrainConfig], output: Path, jobs: int, curves: bool = False) -> list[dict]:
    """Every config, ``jobs`` at a time, each in its own single-threaded process."""
    output.mkdir(parents=True, exist_ok=True)
    read_splits(ReproduceConfig(), "body")  # generate the synthetic set once, before the workers read it
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, config, output, curves) for config in configs]
        records = []
        for config, future in zip(configs, futures):
            records.append(future.result())
            print(f"done {run_name(config)}", flush=True)
    return records


def grid(units: tuple[str, ...], lambdas: tuple[float, ...], seed: int, overrides: dict) -> list[TrainConfig]:
    """Strong, L_M alone per unit, and every (units, λ) weak run, at one seed."""
    strong = quick_budget(mode="strong", seed=seed, **overrides)
    lm_only = [quick_budget(**{**overrides, "epochs": ReproduceConfig().lm_only_epochs}, mode="weak", lam=1.0, loss_units=u,
                            seed=seed) for u in units]  # fmt: skip
    weak = [quick_budget(mode="weak", lam=lam, loss_units=u, seed=seed, **overrides) for u in units for lam in lambdas]
    return [strong, *weak, *lm_only]


def lever_configs(units: str, lam: float, levers: list[dict], overrides: dict) -> list[TrainConfig]:
    """Strong and weak as they are, then the weak model once per lever; a lever that changes a hyper-parameter the
    two models share (not a weak-only field, not the seed) trains the strong model with it too."""
    strong = quick_budget(mode="strong", **overrides)
    weak = quick_budget(mode="weak", lam=lam, loss_units=units, **overrides)
    configs = [strong, weak]
    for lever in levers:
        configs.append(_changed(weak, lever))
        shared = {k: v for k, v in lever.items() if k not in (*WEAK_ONLY, "seed")}
        if shared:
            configs.append(_changed(strong, shared))
    return list({run_name(config): config for config in configs}.values())


def _changed(config: TrainConfig, fields: dict) -> TrainConfig:
    """``config`` with ``fields`` changed, any of them a ``ModelConfig`` field."""
    model = {k: v for k, v in fields.items() if k in ModelConfig.__dataclass_fields__}
    rest = {k: v for k, v in fields.items() if k not in model}
    return replace(config, **rest, model=replace(config.model, **model))


def finalists(records: list[dict], count: int) -> list[TrainConfig]:
    """The ``count`` weak runs with the lowest validation MPJPE, plus λ = 0.8 in every unit, as configs."""
    weak = [r for r in records if r["config"]["mode"] == "weak" and r["config"]["lam"] < 1]
    best = sorted(weak, key=lambda r: r["validation"]["mpjpe_mm"])[:count]
    paper = [r for r in weak if r["config"]["lam"] == 0.8]
    chosen = {r["name"]: r for r in best + paper}
    return [config_of(r) for r in chosen.values()]


def table(records: list[dict], shared: dict) -> str:
    """Markdown: one row per run (its seeds averaged), test MPJPE over that of the strong run with the same changes
    to the shared hyper-parameters (seeds averaged too); the changes ``shared`` by every run (``--set``) are left
    to the header."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(re.sub(r"_seed=\d+", "", record["name"]), []).append(record)
    strong_test = {_shared_changes(runs[0]): statistics.mean(r["test"]["mpjpe_mm"] for r in runs)
                   for runs in groups.values() if runs[0]["config"]["mode"] == "strong"}  # fmt: skip
    rows = [
        "| model | L_M / L_R units | λ | changed | seeds | validation MPJPE | test MPJPE | test P-MPJPE | bone ratio | "
        "test weak/strong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in sorted(groups, key=lambda n: _order(groups[n][0]["config"], n)):
        runs, config = groups[name], groups[name][0]["config"]
        test = {m: statistics.mean(r["test"][m] for r in runs) for m in runs[0]["test"]}
        weak = config["mode"] == "weak"
        label = "strong" if not weak else ("L_M alone" if config["lam"] == 1.0 else "weak")
        changed = ", ".join(f"{k}={v}" for k, v in changes(config_of(runs[0]), quick_budget(**shared)).items() if k != "seed")
        changed = changed or "—"
        seeds = ", ".join(str(r["config"]["seed"]) for r in runs)
        validation = " / ".join(f"{r['validation']['mpjpe_mm']:.1f}" for r in runs)
        rows.append(
            f"| {label} | {config['loss_units'] if weak else '—'} | {config['lam'] if weak else ''} | {changed} | {seeds} | "
            f"{validation} | {test['mpjpe_mm']:.1f} | {test['p_mpjpe_mm']:.1f} | {test['bone_length_ratio']:.2f} | "
            f"{test['mpjpe_mm'] / strong_test[_shared_changes(runs[0])]:.3f} |"
        )
    return "\n".join(rows)


def curves_table(studies: dict[str, list[dict]]) -> str:
    """Markdown: the learning curves of ``--budget`` studies (name -> its records) side by side, per epoch (every
    4th to 16, then every 8th): the first study's strong validation MPJPE, and for each study weak / strong
    validation MPJPE and the weak model's bone ratio (validation, after that epoch; they select nothing)."""

    def per_epoch(records: list[dict], mode: str, key: str) -> dict[int, float]:
        run = next(r for r in records if r["config"]["mode"] == mode)
        return {record["epoch"]: record[key] for record in run["history"]}

    first = next(iter(studies.values()))
    config = next(r for r in first if r["config"]["mode"] == "strong")["config"]
    steps_per_epoch = config["max_frames_per_epoch"] // config["frames_per_batch"]
    strong = per_epoch(first, "strong", "monitor_mpjpe_mm")
    header = ["epochs (steps)", "strong val. MPJPE"]
    for name in studies:
        header += [f"weak/strong, {name}", f"bone ratio, {name}"]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for epoch in [e for e in strong if e % 4 == 0 and (e <= 16 or e % 8 == 0)]:
        cells = [f"{epoch} ({epoch * steps_per_epoch:,})", f"{strong[epoch]:.1f}"]
        for records in studies.values():
            weak = per_epoch(records, "weak", "monitor_mpjpe_mm")
            bones = per_epoch(records, "weak", "monitor_bone_length_ratio")
            ratio = weak[epoch] / per_epoch(records, "strong", "monitor_mpjpe_mm")[epoch]
            cells += [f"{ratio:.3f}", f"{bones[epoch]:.3f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _shared_changes(record: dict) -> tuple:
    """The changes of a run that would apply to the strong model too (not weak-only, not the seed)."""
    return tuple((k, v) for k, v in changes(config_of(record)).items() if k not in (*WEAK_ONLY, "seed"))


def _order(config: dict, name: str) -> tuple:
    """Strong first, then by units in ``LOSS_UNITS`` order, λ, and name."""
    return (config["mode"] != "strong", LOSS_UNITS.index(config["loss_units"]), config["lam"], name)


def _parse_lever(text: str) -> dict:
    """``key=value[,key=value...]``: one lever, as the fields it changes."""
    return dict(_parse_override(part) for part in text.split(","))


def _parse_override(text: str) -> tuple[str, object]:
    """``key=value`` for a ``TrainConfig`` field, the value read as JSON (numbers, null, true) or else a string."""
    key, _, value = text.partition("=")
    if key not in TrainConfig.__dataclass_fields__ and key not in ModelConfig.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"{text}: {key!r} is not a field of TrainConfig or ModelConfig")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", nargs="+", default=list(STUDY_UNITS), choices=LOSS_UNITS)
    parser.add_argument("--lambdas", nargs="+", type=float, default=list(STUDY_LAMBDAS))
    parser.add_argument("--finalists", type=int, default=3, help="how many of the best get a second seed")
    parser.add_argument("--set", dest="overrides", type=_parse_override, action="append", default=[],
                        metavar="FIELD=VALUE", help="a TrainConfig field for every run, e.g. warmup_fraction=0.1")  # fmt: skip
    parser.add_argument("--budget", action="store_true", help="the learning-curve runs instead of the grid")
    parser.add_argument("--levers", type=_parse_lever, nargs="+", metavar="FIELD=VALUE[,FIELD=VALUE]",
                        help="instead of the grid: strong, and the weak model (first --units and --lambdas) once as it is "
                             "and once with each change")  # fmt: skip
    parser.add_argument("--curves", nargs="+", metavar="NAME",
                        help="print the learning curves of saved --budget studies (studies/tables/NAME.json); train nothing")
    parser.add_argument("--budget-epochs", type=int, default=48, help="epochs of the learning-curve runs")
    parser.add_argument("--name", default=None, help="results name (default: units_lambda or budget)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes in parallel")
    parser.add_argument("--output", type=Path, default=Path("results/studies/runs"), help="one JSON per run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    overrides = dict(arguments.overrides)
    if arguments.curves:
        print(curves_table({name: json.loads((RESULTS / f"{name}.json").read_text()) for name in arguments.curves}))
        return 0
    if arguments.levers:
        configs = lever_configs(arguments.units[0], arguments.lambdas[0], arguments.levers, overrides)
        records = run_all(configs, arguments.output, arguments.jobs)
        name = arguments.name or "levers"
    elif arguments.budget:
        changes = {"epochs": arguments.budget_epochs, **overrides}
        configs = [quick_budget(mode="strong", **changes)] + [
            quick_budget(mode="weak", lam=0.8, loss_units=units, **changes) for units in arguments.units
        ]
        records = run_all(configs, arguments.output, arguments.jobs, curves=True)
        name = arguments.name or "budget"
    else:
        records = run_all(grid(tuple(arguments.units), tuple(arguments.lambdas), 0, overrides), arguments.output, arguments.jobs)
        second = [replace(config, seed=1) for config in finalists(records, arguments.finalists)]
        records += run_all([quick_budget(mode="strong", seed=1, **overrides), *second], arguments.output, arguments.jobs)
        name = arguments.name or "units_lambda"
    text = table(records, overrides)
    header = f"Study `{name}` (`python studies/units_lambda.py {' '.join(argv if argv is not None else sys.argv[1:])}`)\n{PROTOCOL}\n\n"
    print(header + text)
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / f"{name}.md", header + text + "\n")
    write_text_atomic(RESULTS / f"{name}.json", json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
