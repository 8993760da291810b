"""Results files (one JSON per trained model) and the paper's tables printed beside ours.

A results file holds the evaluation of ``metrics.evaluate`` on the test split, the training configuration, the
chosen epoch and how it was chosen, the dataset's description, and the protocol line. It is strict JSON: a figure
that does not exist (the root joint's error, a joint never valid) is ``null``, never a bare ``NaN``.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import statistics
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch

from weakpose_lite import paper
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.files import write_text_atomic
from weakpose_lite.inference import evaluate, evaluation_monitor
from weakpose_lite.metrics import PROTOCOL
from weakpose_lite.skeleton import get_skeleton
from weakpose_lite.threads import training_threads
from weakpose_lite.train import TrainConfig, config_from_dict, export_model, train
from weakpose_lite.views import make_views


def train_and_report_all(
    configs: dict[str, TrainConfig], splits: dict[str, MultiViewDataset], output: Path, processes: int = 1,
    read_splits: Callable[[], dict[str, MultiViewDataset]] | None = None,
) -> dict[str, dict]:  # fmt: skip
    """``train_and_report`` for each named config; with ``processes`` > 1 that many at once, each in a fresh process
    with ``threads.training_threads()`` threads, reading the same splits itself with ``read_splits`` (which must pickle:
    a module-level function or a ``functools.partial`` of one). Returns the records by name, in ``configs``' order."""
    if processes <= 1 or read_splits is None:
        return {name: train_and_report(name, config, splits, output) for name, config in configs.items()}
    threads = training_threads()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {name: pool.submit(_train_and_report_in_worker, name, config, read_splits, output, threads)
                for name, config in configs.items()}  # fmt: skip
        return {name: job.result() for name, job in jobs.items()}


def _train_and_report_in_worker(name, config, read_splits, output, threads) -> dict:
    torch.set_num_threads(threads)
    return train_and_report(name, config, read_splits(), output)


def train_and_report(name: str, config: TrainConfig, splits: dict[str, MultiViewDataset], output: Path) -> dict:
    """Train one model into ``output/name/`` (checkpoints, history, and the network alone as ``model.pt``), evaluate
    it on the test split, write ``output/name.json``; -> its record. The history carries the validation split's
    MPJPE, P-MPJPE and bone ratio after each epoch (``inference.evaluation_monitor``; they select nothing), for the
    learning curves of notebook 04. Both splits are read with the run's ``min_visible_joints``."""
    validation = splits["validation"]
    monitor = evaluation_monitor(make_views(validation, False, config.min_visible_joints), validation.skeleton)
    result = train(config, splits["train"], validation, output / name, epoch_metrics=monitor)
    export_model(output / name / "model.pt", result, config, splits["train"])
    test = splits["test"]
    evaluation = evaluate(result.model, make_views(test, False, config.min_visible_joints), test.skeleton)
    record = results_record(name, config, evaluation, test.summary(), result.best_epoch, test.skeleton_name)
    write_results(output / f"{name}.json", record)
    return record


def results_record(name: str, config, evaluation: dict, dataset_summary: str, best_epoch: int, skeleton_name: str) -> dict:
    """One model's results as a JSON-ready dict (config: a ``TrainConfig``)."""
    return {
        "name": name,
        "skeleton": skeleton_name,
        "joints": list(get_skeleton(skeleton_name).joints),
        "evaluation": _without_nan(evaluation),
        "config": asdict(config),
        "best_epoch": best_epoch,
        "checkpoint_selection": config.selection_metric,
        "test_set": dataset_summary,
        "protocol": PROTOCOL,
    }


def write_results(path: str | Path, record: dict) -> None:
    """Write one results file atomically."""
    write_text_atomic(path, json.dumps(_without_nan(record), indent=1, allow_nan=False))


def load_results(path: str | Path) -> dict:
    """Read a results file written by ``write_results``: strict JSON (a bare NaN or Infinity is an error)."""
    return json.loads(Path(path).read_text(), parse_constant=partial(_not_json, path))


def _not_json(path: str | Path, constant: str):
    raise ValueError(f"{path}: not strict JSON: {constant} where a number or null belongs")


def _without_nan(value):
    """Nested dicts and lists with every NaN replaced by None (JSON null)."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def _number(value: float | None, width: int = 9) -> str:
    return f"{'—':>{width}}" if value is None or math.isnan(value) else f"{value:{width}.2f}"


def table_2(strong: dict, weak: dict, more: dict[str, dict] | None = None) -> str:
    """Mean MPJPE of a strong and a weak results record beside the paper's Table 2 (same skeleton), as text;
    ``more`` adds a row per labelled record (its MPJPE over strong's)."""
    skeleton = strong["skeleton"]
    ours_strong, ours_weak = strong["evaluation"]["mpjpe_mm"], weak["evaluation"]["mpjpe_mm"]
    weak_loss = config_from_dict(weak["config"]).loss  # a record of this version or an older one
    reported = paper.TABLE_2_MPJPE_MM[skeleton]
    lines = [
        f"Table 2 ({skeleton}): mean MPJPE, mm        strong      weak   weak/strong",
        f"  paper (Panoptic, reported)          {_number(reported['strong'])} {_number(reported['weak'])}"
        f"   {reported['weak'] / reported['strong']:.3f}",
        f"  {'this run (weak: λ = ' + str(weak_loss.lam) + ', ' + weak_loss.units + ')':<36}"
        f"{_number(ours_strong)} {_number(ours_weak)}"
        f"   {ours_weak / ours_strong:.3f}",
        f"  P-MPJPE, this run                   {_number(strong['evaluation']['p_mpjpe_mm'])}"
        f" {_number(weak['evaluation']['p_mpjpe_mm'])}",
        f"  PCK3D@150mm, this run               {_number(100 * strong['evaluation']['pck3d_150mm'])}"
        f" {_number(100 * weak['evaluation']['pck3d_150mm'])}   (%)",
    ]
    for label, record in (more or {}).items():
        mpjpe = record["evaluation"]["mpjpe_mm"]
        lines.append(f"  {label:<36}{'':>9} {_number(mpjpe)}   {mpjpe / ours_strong:.3f}")
    lines.append(f"  {strong['protocol']}")
    return "\n".join(lines)


def table_3(strong: dict, weak: dict) -> str:
    """Per-joint MPJPE of two body results records beside the paper's Table 3, as text."""
    joints = strong["joints"]
    lines = ["Table 3 (body): per-joint MPJPE, mm     paper S.-S.  paper W.-S.   ours S.-S.   ours W.-S."]
    for index, joint in enumerate(joints):
        if joint not in paper.TABLE_3_MPJPE_MM:
            continue
        reported_strong, reported_weak = paper.TABLE_3_MPJPE_MM[joint]
        ours_strong = strong["evaluation"]["per_joint_mpjpe_mm"][index]
        ours_weak = weak["evaluation"]["per_joint_mpjpe_mm"][index]
        lines.append(
            f"  {joint:<34}{_number(reported_strong, 12)} {_number(reported_weak, 12)} "
            f"{_number(ours_strong, 12)} {_number(ours_weak, 12)}"
        )
    lines.append(f"  {strong['protocol']}")
    return "\n".join(lines)


def seed_ratios(records: list[dict]) -> list[dict]:
    """Study records (``config``, ``validation`` and ``test`` evaluations) of a strong and a weak run per seed -> per
    seed, in seed order: both models' test MPJPE and the weak/strong ratios of test MPJPE, test P-MPJPE and
    validation MPJPE."""
    by_seed: dict[int, dict[str, dict]] = {}
    for record in records:
        by_seed.setdefault(record["config"]["seed"], {})[record["config"]["mode"]] = record
    rows = []
    for seed, pair in sorted(by_seed.items()):
        strong, weak = pair["strong"], pair["weak"]
        rows.append({
            "seed": seed, "strong_test": strong["test"]["mpjpe_mm"], "weak_test": weak["test"]["mpjpe_mm"],
            "test": weak["test"]["mpjpe_mm"] / strong["test"]["mpjpe_mm"],
            "test_p_mpjpe": weak["test"]["p_mpjpe_mm"] / strong["test"]["p_mpjpe_mm"],
            "validation": weak["validation"]["mpjpe_mm"] / strong["validation"]["mpjpe_mm"],
        })  # fmt: skip
    return rows


def spread(values: list[float], digits: int = 3) -> str:
    """``mean ± sd (min–max)`` of two values or more; the sample standard deviation (n − 1)."""
    if len(values) < 2:
        raise ValueError(f"a spread needs at least two values, got {len(values)}")
    mean, sd = statistics.mean(values), statistics.stdev(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"
