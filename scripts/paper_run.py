"""The paper-sized run in one command: the strongly- and the weakly-supervised models at the paper's full budget
(§3.4.1: width 1024, dropout 0.5, 100 epochs of every training frame, λ = 0.8), each epoch's time and the whole run's
estimated time printed as it goes, Table 2 (and 3) at the end.

    python scripts/paper_run.py                                  # the Panoptic-sized synthetic set: a GPU job
    python scripts/paper_run.py --dataset data/generated/datasets    # a built CMU Panoptic dataset instead
    python scripts/paper_run.py --synthetic-size default --epochs 2 --max-frames-per-epoch 800 \\
        --project-to-frames 211200 --output results/paper_pace    # its pace on a CPU, projected to the full run

The data is the Panoptic-sized synthetic preset (``SyntheticConfig.panoptic_sized``: 211,200 training frames × 31
views), generated once and cached under ``results/data/``, or a dataset folder (``--dataset``). ``--device auto``
trains on CUDA when there is one. Interrupt it at any time: the same command continues each model from its last
finished epoch exactly (``train``'s resume: weights, optimiser, schedule, random streams; a finished model is only
re-evaluated), so flags that change the training must stay the same. With ``--max-frames-per-epoch`` the training time
is also projected, at the end, to epochs of every frame (or of ``--project-to-frames``: 211200, the Panoptic-sized
set's training frames, projects a short run on a smaller set). Results as the main job writes them:
``OUTPUT/{strong,weak}.json``, and each model's checkpoints in ``OUTPUT/{strong,weak}/``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from weakpose_lite.checkpoints import load_checkpoint
from weakpose_lite.configs import CommandParser, add_arguments, from_arguments, run_command
from weakpose_lite.inference import evaluate
from weakpose_lite.model import ModelConfig
from weakpose_lite.reproduce import ReproduceConfig, model_configs, read_splits
from weakpose_lite.results import results_record, table_2, table_3, write_results
from weakpose_lite.threads import use_training_threads
from weakpose_lite.train import TrainConfig, export_model, train
from weakpose_lite.views import make_views

PAPER_TRAINING = TrainConfig(epochs=100, model=ModelConfig(hidden=1024, dropout=0.5), max_frames_per_epoch=None)
PAPER_RUN = ReproduceConfig(synthetic_size="panoptic_sized", output="results/paper_run", training=PAPER_TRAINING)
MODELS = ("strong", "weak")
NOT_FLAGS = ("mode", "skeleton", "hands", "lm_only_epochs", "processes")  # the main job's, not this run's


class RunClock:
    """Each epoch's wall time (training and validation), and the remaining epochs' estimated from those timed so far
    (a model's first epoch also holds its set-up, so it counts only while no later epoch is timed)."""

    def __init__(self, epochs_left: int):
        self.epochs_left = epochs_left
        self.walls: dict[str, list[float]] = {}
        self.last = time.perf_counter()

    def start(self, label: str) -> None:
        """The model ``label`` starts: its next epoch is its first."""
        self.last, self.walls[label] = time.perf_counter(), []

    def epoch_done(self, label: str) -> str:
        """The line to print after an epoch of the model ``label``."""
        now = time.perf_counter()
        self.walls[label].append(now - self.last)
        self.last, self.epochs_left = now, self.epochs_left - 1
        later = [wall for walls in self.walls.values() for wall in walls[1:]]
        timed = later or [walls[0] for walls in self.walls.values() if walls]
        setup = " (with set-up)" if len(self.walls[label]) == 1 else ""
        return (f"{label}: epoch {self.walls[label][-1]:.1f} s{setup}; the remaining {self.epochs_left} epochs ≈ "
                f"{_hours(self.epochs_left * sum(timed) / len(timed))}")  # fmt: skip


def projection(histories: dict[str, list[dict]], walls: dict[str, list[float]], steps: int, full_steps: int, epochs: int) -> str:
    """The time of ``epochs`` epochs of ``full_steps`` steps, from epochs of ``steps`` timed here: each model's training
    time (its history's ``seconds``) in proportion to the steps; its validation (the rest of an epoch's wall time,
    after the first) as measured, since it grows with the validation split, not with the steps."""
    lines, total = [f"projected to {full_steps:,} steps an epoch (timed here at {steps:,}), training only:"], 0.0
    for name, history in histories.items():
        training = sum(record["seconds"] for record in history) / len(history) * full_steps / steps
        this_session = history[len(history) - len(walls[name]):]  # a resumed run timed only its last epochs
        validation = [wall - record["seconds"] for wall, record in zip(walls[name][1:], this_session[1:])]
        measured = f"{sum(validation) / len(validation):.0f} s" if validation else "not timed (one epoch)"
        lines.append(f"  {name}: an epoch ≈ {_hours(training)}; validation here {measured} an epoch")
        total += training * epochs
    return "\n".join(lines + [f"  {epochs} epochs of both (the paper's budget) ≈ {_hours(total)} of training"])


def _hours(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def epochs_done(folder: Path) -> int:
    """Epochs a model's folder holds a resumable state for (0 without one)."""
    last = folder / "last.pt"
    return load_checkpoint(last)["epoch"] if last.exists() else 0


def paper_run(config: ReproduceConfig, project_to_frames: int | None = None) -> dict[str, dict]:
    """Train (or continue) strong and weak, evaluate each on the test split, print Tables 2 and 3 (and, for capped
    epochs, the time projected to epochs of every frame or of ``project_to_frames``); -> the records."""
    print(use_training_threads(), flush=True)
    output, training = Path(config.output), config.training
    started = time.perf_counter()
    splits = read_splits(config, "body")  # generated once and cached beside the output
    print(f"data ready in {time.perf_counter() - started:.0f} s: train {splits['train'].summary()}", flush=True)
    clock = RunClock(sum(training.epochs - epochs_done(output / name) for name in MODELS))
    records, histories = {}, {}
    for name in MODELS:
        clock.start(name)
        records[name], histories[name] = train_and_evaluate(name, model_configs(config)[name], splits, output, clock)
    print(table_2(records["strong"], records["weak"]))
    print(table_3(records["strong"], records["weak"]))
    frames = splits["train"].keypoints_2d.shape[0]
    used = frames if training.max_frames_per_epoch is None else min(frames, training.max_frames_per_epoch)
    full = project_to_frames or frames
    if full > used and all(clock.walls.values()):
        batch = training.frames_per_batch
        print(projection(histories, clock.walls, used // batch, full // batch, PAPER_TRAINING.epochs))
    print(f"{time.perf_counter() - started:.0f} s in this session; files in {output}/")
    return records


def train_and_evaluate(name: str, config: TrainConfig, splits: dict, output: Path, clock: RunClock) -> tuple[dict, list[dict]]:
    """As ``results.train_and_report``, resumed from ``output/name/last.pt`` when there is one, with the clock's line
    after each epoch (no per-epoch monitor: on a Panoptic-sized validation split it would cost an evaluation)."""
    folder = output / name

    def tick(model) -> dict:
        print(clock.epoch_done(name), flush=True)
        return {}

    result = train(config, splits["train"], splits["validation"], folder, resume=(folder / "last.pt").exists(), epoch_metrics=tick)
    export_model(folder / "model.pt", result, config, splits["train"])
    test = splits["test"]
    evaluation = evaluate(result.model, make_views(test, False, config.min_visible_joints), test.skeleton)
    record = results_record(name, config, evaluation, test.summary(), result.best_epoch, test.skeleton_name)
    write_results(output / f"{name}.json", record)
    return record, result.history


def parse_arguments(argv: list[str] | None = None) -> tuple[ReproduceConfig, int | None]:
    """Command-line arguments -> the run's ``ReproduceConfig`` (the paper's budget by default), and the training
    frames to project the time to (None: the dataset's)."""
    parser = CommandParser(prog="python scripts/paper_run.py", description=__doc__.split("\n\n")[0])
    add_arguments(parser, ReproduceConfig, PAPER_RUN, exclude=NOT_FLAGS)
    parser.add_argument("--project-to-frames", type=int, default=None,
                        help="estimate the time of epochs of this many training frames (default: the dataset's)")
    arguments = parser.parse_args(argv)
    return from_arguments(ReproduceConfig, arguments, PAPER_RUN, exclude=NOT_FLAGS), arguments.project_to_frames


def main(argv: list[str] | None = None) -> dict[str, dict]:
    return paper_run(*parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(run_command(main))
