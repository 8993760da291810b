#!/usr/bin/env python
"""Units × λ: the same λ of Eq. 3 is good or bad depending on the units of L_M and L_R.

    python studies/units_lambda.py                  # prints the plan (the grid, how many runs) and trains nothing
    python studies/units_lambda.py --run            # the grid at the quick-run budget, then the finalists' 2nd seed
    python studies/units_lambda.py --budget --run   # λ = 0.8 in two units and strong, longer, with per-epoch curves
    python studies/units_lambda.py --levers warmup_fraction=0.05 detach_average=true --run   # one weak run per change
    python studies/units_lambda.py --table units_lambda         # a committed table, re-printed from its records
    python studies/units_lambda.py --curves budget_new budget_old   # the saved learning curves as one table
    python studies/units_lambda.py --run --executor slurm --slurm-partition cpu   # each run a Slurm job (submitit)

Every run trains on the kit's synthetic set (``--synthetic-size``) at the main job's budget (``ReproduceConfig``'s
epochs, width, dropout and frames per epoch unless overridden with ``--set``). A weak model picks its checkpoint on
its validation loss (no 3D, as in the main job); afterwards its *validation* MPJPE chooses among units and λ, and its
test MPJPE and bone-length ratio (mean predicted / true bone length, test split) are reported beside it, never used
to choose. The finalists (the best few by validation MPJPE, and λ = 0.8 in every unit) are trained again with a
second seed.

Each run writes its record to ``--output`` (one JSON, written atomically by the run itself); a run whose record is
there is skipped, so an interrupted study, local or on a cluster, resumes where it stopped. The table is printed as
markdown and written with every record to ``--tables`` (``studies/tables/``, committed), from where ``--table``
re-prints it.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from executors import add_executor_arguments, map_runs, threads_per_run
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.files import write_text_atomic
from weakpose_lite.inference import MONITORED, evaluate, evaluation_monitor
from weakpose_lite.losses import LossConfig
from weakpose_lite.metrics import PROTOCOL
from weakpose_lite.model import ModelConfig
from weakpose_lite.reproduce import QUICK_TRAINING, ReproduceConfig, read_splits
from weakpose_lite.train import TrainConfig, config_from_dict, train, with_fields
from weakpose_lite.views import make_views

STUDY_UNITS = ("normalised", "mm", "mm_pixels", "cm_pixels")
UNITS_ORDER = ("cm_pixels", "normalised", "mm", "mm_pixels")  # the tables' row order
STUDY_LAMBDAS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
RESULTS = Path(__file__).parent / "tables"


def quick_budget(**changes) -> TrainConfig:
    """The main job's training budget (``reproduce.QUICK_TRAINING``) on the CPU, with ``changes`` to any field of
    ``TrainConfig``, ``LossConfig`` or ``ModelConfig`` (``train.with_fields``)."""
    return with_fields(replace(QUICK_TRAINING, device="cpu"), **changes)


def _flat(config: TrainConfig) -> dict:
    """The config's fields with the model's and the loss's among them, the two loss units as one ``loss_units``
    name ("cm_pixels"), as one flat dict: the names the run names and tables use."""
    fields = asdict(config)
    loss = {k: v for k, v in fields.pop("loss").items() if k not in ("multiview_unit", "reprojection_unit")}
    return fields | fields.pop("model") | loss | {"loss_units": config.loss.units}


WEAK_ONLY = ("lam", "loss_units", "warmup_fraction", "detach_average", "reprojection_views", "reprojection_weights",
             "reprojection_cap", "output_statistics")


def changes(config: TrainConfig, base: TrainConfig | None = None) -> dict:
    """The fields in which ``config`` differs from ``base`` (default: the quick budget), besides its mode, λ and
    units (for a strong run, the weak-only fields aside too)."""
    base = _flat(base or quick_budget())
    ignored = ("mode", "lam", "loss_units") + (WEAK_ONLY if config.mode == "strong" else ())
    return {key: value for key, value in sorted(_flat(config).items()) if value != base[key] and key not in ignored}


def run_name(config: TrainConfig, synthetic_size: str = "default") -> str:
    """A file name that says what the run is and what differs from the quick budget (and the data, if not the
    default synthetic set)."""
    label = "strong" if config.mode == "strong" else f"weak_{config.loss.units}_lam{config.loss.lam}"
    data = "" if synthetic_size == "default" else f"_data={synthetic_size}"
    return label + "".join(f"_{key}={value}" for key, value in changes(config).items()) + data


def config_of(record: dict) -> TrainConfig:
    """The ``TrainConfig`` of a run's record (this version's or an older flat one)."""
    return config_from_dict(record["config"])


def _evaluation_summary(model, views, skeleton) -> dict:
    evaluation = evaluate(model, views, skeleton)
    return {key: evaluation[key] for key in MONITORED}


def run_one(config: TrainConfig, output: Path, curves: bool, synthetic_size: str = "default", threads: int = 1) -> dict:
    """Train one model, evaluate it on validation and test, write and return its record (read back if written)."""
    name = run_name(config, synthetic_size)
    path = output / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(threads)
    splits = read_splits(ReproduceConfig(synthetic_size=synthetic_size), "body")
    record = {"name": name} | train_and_evaluate(config, splits, curves)
    write_text_atomic(path, json.dumps(record, indent=1))
    return record


def train_and_evaluate(config: TrainConfig, splits: dict, curves: bool = False) -> dict:
    """Train one model on ``splits`` (picking its checkpoint on validation) -> the body of its record: config, chosen
    epoch, validation and test evaluations, learning curves when ``curves``, threads."""
    skeleton = splits["train"].skeleton
    validation, test = (make_views(splits[split], False, config.min_visible_joints) for split in ("validation", "test"))
    monitor = evaluation_monitor(validation, skeleton) if curves else None
    result = train(config, splits["train"], splits["validation"], epoch_metrics=monitor)
    return {
        "config": asdict(config), "best_epoch": result.best_epoch,
        "validation": _evaluation_summary(result.model, validation, skeleton),
        "test": _evaluation_summary(result.model, test, skeleton),
        "history": result.history if curves else None, "threads": torch.get_num_threads(),
    }  # fmt: skip


def run_all(configs: list[TrainConfig], arguments: argparse.Namespace, curves: bool = False) -> list[dict]:
    """Every config's record: read when ``--output`` has it, else trained on ``--executor``."""
    output, size = arguments.output, arguments.synthetic_size
    output.mkdir(parents=True, exist_ok=True)
    missing = [config for config in configs if not (output / f"{run_name(config, size)}.json").exists()]
    print(f"{len(configs) - len(missing)} of {len(configs)} runs already finished in {output}; training {len(missing)}",
          flush=True)  # fmt: skip
    if missing:
        read_splits(ReproduceConfig(synthetic_size=size), "body")  # generated once, before the runs read it
    threads = threads_per_run(arguments)
    map_runs(run_one, [(config, output, curves, size, threads) for config in missing], arguments)
    return [json.loads((output / f"{run_name(config, size)}.json").read_text()) for config in configs]


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
        configs.append(with_fields(weak, **lever))
        shared = {k: v for k, v in lever.items() if k not in (*WEAK_ONLY, "seed")}
        if shared:
            configs.append(with_fields(strong, **shared))
    return list({run_name(config): config for config in configs}.values())


def budget_configs(units: list[str], epochs: int, overrides: dict) -> list[TrainConfig]:
    """The learning-curve runs: strong, and the weak model at λ = 0.8 in each of ``units``, for ``epochs``."""
    changed = {"epochs": epochs, **overrides}
    return [quick_budget(mode="strong", **changed)] + [quick_budget(mode="weak", lam=0.8, loss_units=u, **changed) for u in units]


def finalists(records: list[dict], count: int) -> list[TrainConfig]:
    """The ``count`` weak runs with the lowest validation MPJPE, plus λ = 0.8 in every unit, as configs."""
    weak = [r for r in records if config_of(r).mode == "weak" and config_of(r).loss.lam < 1]
    best = sorted(weak, key=lambda r: r["validation"]["mpjpe_mm"])[:count]
    paper = [r for r in weak if config_of(r).loss.lam == 0.8]
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
                   for runs in groups.values() if config_of(runs[0]).mode == "strong"}  # fmt: skip
    rows = [
        "| model | L_M / L_R units | λ | changed | seeds | validation MPJPE | test MPJPE | test P-MPJPE | bone ratio | "
        "test weak/strong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in sorted(groups, key=lambda n: _order(config_of(groups[n][0]), n)):
        runs, config = groups[name], config_of(groups[name][0])
        test = {m: statistics.mean(r["test"][m] for r in runs) for m in runs[0]["test"]}
        weak, lam = config.mode == "weak", config.loss.lam
        label = "strong" if not weak else ("L_M alone" if lam == 1.0 else "weak")
        changed = ", ".join(f"{k}={v}" for k, v in changes(config, quick_budget(**shared)).items() if k != "seed") or "—"
        seeds = ", ".join(str(config_of(r).seed) for r in runs)
        validation = " / ".join(f"{r['validation']['mpjpe_mm']:.1f}" for r in runs)
        rows.append(
            f"| {label} | {config.loss.units if weak else '—'} | {lam if weak else ''} | {changed} | {seeds} | "
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
    """The changes of a run that would apply to the strong model too (not weak-only, not the seed; not the shorter
    budget of L_M alone, which collapses within it and is compared with the strong model at the full one)."""
    config = config_of(record)
    own = (*WEAK_ONLY, "seed") + (("epochs",) if config.mode == "weak" and config.loss.lam == 1.0 else ())
    return tuple((k, v) for k, v in changes(config).items() if k not in own)


def _order(config: TrainConfig, name: str) -> tuple:
    """Strong first, then by units in ``UNITS_ORDER`` (others after), λ, and name."""
    units = config.loss.units
    return (config.mode != "strong", UNITS_ORDER.index(units) if units in UNITS_ORDER else len(UNITS_ORDER),
            config.loss.lam, name)  # fmt: skip


def _parse_lever(text: str) -> dict:
    """``key=value[,key=value...]``: one lever, as the fields it changes."""
    return dict(_parse_override(part) for part in text.split(","))


def _parse_override(text: str) -> tuple[str, object]:
    """``key=value`` for a field of ``TrainConfig``, ``LossConfig`` or ``ModelConfig``, the value read as JSON
    (numbers, null, true) or else a string."""
    key, _, value = text.partition("=")
    if not any(key in kind.__dataclass_fields__ for kind in (TrainConfig, LossConfig, ModelConfig)):
        raise argparse.ArgumentTypeError(f"{text}: {key!r} is not a field of TrainConfig, LossConfig or ModelConfig")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


# Fields the study itself sets for each run: --set may not change them (use --units and --lambdas; seeds 0 and 1).
GRID_FIELDS = ("mode", "seed", "lam", "loss_units", "multiview_unit", "reprojection_unit")


def _parse_setting(text: str) -> tuple[str, object]:
    """A ``--set`` ``key=value`` (``_parse_override``), refused for a field the grid sets itself."""
    key, value = _parse_override(text)
    if key in GRID_FIELDS:
        raise argparse.ArgumentTypeError(f"{text}: {key} is set by the study for each run (--units, --lambdas and its "
                                         f"seeds), not by --set")  # fmt: skip
    return key, value


def _units(text: str) -> str:
    """A ``--units`` name, checked as ``LossConfig.in_units`` reads it."""
    try:
        return LossConfig.in_units(text).units
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag with its default in ``--help``."""
    parser = CommandParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    study = parser.add_argument_group("what to run (without --run: print the plan and train nothing)")
    study.add_argument("--run", action="store_true", help="train the runs of the plan that have no record yet")
    study.add_argument("--units", nargs="+", type=_units, default=list(STUDY_UNITS),
                       help="units of L_M / L_R: L_M's (cm, mm, normalised), then _ and L_R's (pixels, mm, normalised) "
                            "unless the same")  # fmt: skip
    study.add_argument("--lambdas", nargs="+", type=float, default=list(STUDY_LAMBDAS), help="the λ of the grid")
    study.add_argument("--finalists", type=int, default=3, help="how many of the best get a second seed")
    study.add_argument("--set", dest="overrides", type=_parse_setting, action="append", default=[],
                       metavar="FIELD=VALUE", help="a TrainConfig field for every run, e.g. warmup_fraction=0.1")  # fmt: skip
    study.add_argument("--budget", action="store_true", help="the learning-curve runs instead of the grid")
    study.add_argument("--budget-epochs", type=int, default=48, help="epochs of the learning-curve runs")
    study.add_argument("--levers", type=_parse_lever, nargs="+", metavar="FIELD=VALUE[,FIELD=VALUE]",
                       help="instead of the grid: strong, and the weak model (first --units and --lambdas) once as it "
                            "is and once with each change")  # fmt: skip
    study.add_argument("--synthetic-size", choices=("tiny", "default"), default="default",
                       help="the synthetic set every run trains on (tiny: a smoke test)")
    files = parser.add_argument_group("records and tables")
    files.add_argument("--name", default=None, help="table name; none: units_lambda, budget or levers")
    files.add_argument("--output", type=Path, default=Path("results/studies/runs"), help="one JSON record per run")
    files.add_argument("--tables", type=Path, default=RESULTS, help="where NAME.md and NAME.json (every record) go")
    files.add_argument("--table", metavar="NAME", help="re-print the table of a saved study from --tables/NAME.json; train nothing")
    files.add_argument("--curves", nargs="+", metavar="NAME",
                       help="print the learning curves of saved --budget studies (--tables/NAME.json); train nothing")
    add_executor_arguments(parser)
    return parser


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def reprinted_table(name: str, tables: Path) -> str:
    """The table of the saved study ``name``, rebuilt from its records with the ``--set`` of the command that its
    markdown file's first line names; the same text as that file."""
    header = (tables / f"{name}.md").read_text().splitlines()[:2]
    command = re.fullmatch(r"Study `.*` \(`python studies/units_lambda\.py (.*)`\)", header[0]).group(1)
    overrides = dict(parse_arguments(shlex.split(command)).overrides)
    return "\n".join(header) + "\n\n" + table(json.loads((tables / f"{name}.json").read_text()), overrides)


def plan(arguments: argparse.Namespace, overrides: dict) -> tuple[str, list[TrainConfig], bool]:
    """The study the arguments ask for: its default name, its first runs, and whether they record learning curves."""
    if arguments.levers:
        return "levers", lever_configs(arguments.units[0], arguments.lambdas[0], arguments.levers, overrides), False
    if arguments.budget:
        return "budget", budget_configs(arguments.units, arguments.budget_epochs, overrides), True
    return "units_lambda", grid(tuple(arguments.units), tuple(arguments.lambdas), 0, overrides), False


def print_plan(configs: list[TrainConfig], arguments: argparse.Namespace, grid_mode: bool) -> None:
    size = arguments.synthetic_size
    finished = sum((arguments.output / f"{run_name(c, size)}.json").exists() for c in configs)
    print(f"would train {len(configs) - finished} runs ({finished} of {len(configs)} already have a record in "
          f"{arguments.output}) on --executor {arguments.executor}:")  # fmt: skip
    for config in configs:
        print(f"  {run_name(config, size)}")
    if grid_mode:
        print(f"then again with seed 1: strong, the {arguments.finalists} best weak runs by validation MPJPE and λ = 0.8 "
              f"in every unit (up to {arguments.finalists + 1 + len(arguments.units)} more runs)")  # fmt: skip
    print("add --run to train them (python studies/units_lambda.py --help for the options)")


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag, ``--set`` value or file, before
    any data is generated (``--debug`` shows the traceback)."""
    return run_command(_study, argv)


def _study(argv: list[str]) -> None:
    arguments = parse_arguments(argv)
    overrides = dict(arguments.overrides)
    if arguments.table:
        print(reprinted_table(arguments.table, arguments.tables))
        return
    if arguments.curves:
        print(curves_table({n: json.loads((arguments.tables / f"{n}.json").read_text()) for n in arguments.curves}))
        return
    default_name, configs, curves = plan(arguments, overrides)  # every --set value checked here, before any data
    grid_mode = default_name == "units_lambda"
    if not arguments.run:
        print_plan(configs, arguments, grid_mode)
        return
    records = run_all(configs, arguments, curves)
    if grid_mode:
        second = [replace(config, seed=1) for config in finalists(records, arguments.finalists)]
        records += run_all([quick_budget(mode="strong", seed=1, **overrides), *second], arguments)
    name = arguments.name or default_name
    text = table(records, overrides)
    command = " ".join(argv)
    header = f"Study `{name}` (`python studies/units_lambda.py {command}`)\n{PROTOCOL}\n\n"
    publish(arguments.tables, name, header + text, records)


def add_study_arguments(parser: argparse.ArgumentParser, name: str, output: str, seeds: tuple[int, ...]) -> None:
    """The flags a study of fixed runs shares (seeds.py, gap_attribution.py): --run, --seeds, --table, --output,
    --tables, and the executor's."""
    parser.add_argument("--run", action="store_true", help="train the runs that have no record yet, then print the table")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(seeds), help="training seeds")
    parser.add_argument("--table", action="store_true", help="re-print the committed table from its records; train nothing")
    parser.add_argument("--output", type=Path, default=Path(output), help="one JSON record per run")
    parser.add_argument("--tables", type=Path, default=RESULTS, help=f"where {name}.md and {name}.json go")
    add_executor_arguments(parser)


def publish(tables: Path, name: str, text: str, records: list[dict]) -> None:
    """Print a study's table ``text`` and write it to ``tables/name.md``, with every record in ``tables/name.json``."""
    print(text)
    tables.mkdir(parents=True, exist_ok=True)
    write_text_atomic(tables / f"{name}.md", text + "\n")
    write_text_atomic(tables / f"{name}.json", json.dumps(records, indent=1))


if __name__ == "__main__":
    sys.exit(main())
