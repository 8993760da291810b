"""The quick reproduction: train strong, weak and L_M-only models on one dataset, print Tables 2 and 3 beside the
paper's, and write the results files and ``summary.json``.

    python -m weakpose_lite.reproduce                     # synthetic default data, minutes on 2 CPU cores
    python -m weakpose_lite.reproduce --hands             # also the body + hands pair: Table 2's second row
    python -m weakpose_lite.reproduce --motion cmu:DIR    # real people: CMU mocap trials filmed in the same dome
    python -m weakpose_lite.reproduce --dataset DIR --epochs 100 --hidden 1024 --dropout 0.5 \\
        --max-frames-per-epoch none --device cuda         # the paper's run on built data (a GPU job)

``DIR`` holds ``train.npz``, ``validation.npz`` and ``test.npz`` (``data_scripts/build_panoptic_dataset.py``).
The weak model trains at the paper's λ = 0.8 with L_M in centimetres and L_R in pixels, the data's own units (the
``train`` docstring says why the units matter; ``studies/units_lambda.py`` measured the choice).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

from weakpose_lite.configs import CommandParser, add_arguments, check_field_types, from_arguments, option, run_command
from weakpose_lite.data.dataset import SPLITS, MultiViewDataset, load_splits
from weakpose_lite.data.formats.export import write_sequence
from weakpose_lite.data.formats.panoptic import calibration_file, read_calibration
from weakpose_lite.data.synthetic import SyntheticConfig, load_or_make_synthetic
from weakpose_lite.data.synthetic.captured import MOTION_SPLITS, motion_folder
from weakpose_lite.files import write_text_atomic
from weakpose_lite.model import ModelConfig
from weakpose_lite.results import seed_ratios, spread, table_2, table_3, train_and_report_all
from weakpose_lite.threads import ENVIRONMENT_VARIABLE, training_threads
from weakpose_lite.train import TrainConfig, resolve_device, with_fields

# The main job's budget: 16 epochs of 4,000 frames (8,000 steps) of a 256-wide network, minutes on 2 CPU cores.
QUICK_TRAINING = TrainConfig(epochs=16, model=ModelConfig(hidden=256, dropout=0.25), max_frames_per_epoch=4000)


@dataclass(frozen=True)
class ReproduceConfig:
    """What the reproduction runs; the defaults finish in minutes on a 2-core CPU."""

    dataset: str | None = option(None, "folder with train/validation/test.npz; none: the synthetic default")
    synthetic_size: str = option("default", "synthetic preset: tiny (CI), default, or panoptic_sized")
    rig_calibration: str | None = option(None, "a Panoptic calibration JSON whose HD cameras replace the dome")
    motion: str = option("synthetic", "who moves in the dome: synthetic, or cmu:DIR (CMU mocap .asf/.amc files)")
    motion_split: str = option("subject", "captured motion split by subject, or by time (too few subjects)")
    skeleton: str = option("body", "body, or body_hands for Table 2's second row alone")
    hands: bool = option(False, "after the body models, also train and report the body + hands pair")
    output: str = option("results/reproduce", "folder of the results, checkpoints and summary.json")
    lm_only_epochs: int = option(2, "epochs of the L_M-only model (it collapses within them)")
    processes: int = option(2, "models trained at once, each in its own process with a share of the CPU threads")
    training: TrainConfig = field(default_factory=lambda: QUICK_TRAINING)

    def __post_init__(self):
        check_field_types(self)
        if self.synthetic_size not in ("tiny", "default", "panoptic_sized"):
            raise ValueError(f"synthetic_size must be tiny, default or panoptic_sized, got {self.synthetic_size!r}")
        if self.training.mode != "weak":
            raise ValueError("ReproduceConfig.training describes the weak model (mode 'weak'); strong is trained beside it")
        if self.lm_only_epochs < 1 or self.processes < 1:
            raise ValueError(f"lm_only_epochs and processes must be at least 1, got {self.lm_only_epochs}, {self.processes}")
        motion_folder(self.motion)  # a malformed --motion fails here, before any work
        if self.motion_split not in MOTION_SPLITS:
            raise ValueError(f"ReproduceConfig.motion_split must be one of {', '.join(MOTION_SPLITS)}, got {self.motion_split!r}")
        if self.motion != "synthetic" and (self.dataset is not None or self.hands):
            raise ValueError("--motion films captured motion in the synthetic dome: it takes neither --dataset nor "
                             "--hands (the CMU skeleton has no finger joints)")
        if self.hands and (self.skeleton != "body" or self.dataset is not None):
            raise ValueError("--hands adds the synthetic body + hands pair after the body models: it needs --skeleton body "
                             "and no --dataset (for a built body_hands dataset pass --skeleton body_hands alone)")


def read_splits(config: ReproduceConfig, skeleton: str) -> dict[str, MultiViewDataset]:
    """The train / validation / test datasets: built files from ``config.dataset``, else the synthetic rig."""
    if config.dataset is not None:
        splits = load_splits(config.dataset)
        found = {dataset.skeleton_name for dataset in splits.values()}
        if found != {skeleton}:
            raise ValueError(f"{config.dataset}: its datasets are of skeleton {', '.join(sorted(found))}, not --skeleton "
                             f"{skeleton} (pass --skeleton {min(found)}, or build the dataset for {skeleton})")
        return splits
    preset = SyntheticConfig() if config.synthetic_size == "default" else getattr(SyntheticConfig, config.synthetic_size)()
    preset = replace(preset, skeleton=skeleton, seed=config.training.seed, motion=config.motion,
                     motion_split=config.motion_split)  # fmt: skip
    if config.motion != "synthetic":
        preset = replace(preset, name=f"cmu_mocap_{preset.name}")
    rig = None if config.rig_calibration is None else read_calibration(config.rig_calibration).cameras
    return load_or_make_synthetic(preset, Path(config.output).parent / "data", rig)


# The committed records of studies/seeds.py, where the repository is checked out (absent from an installed package).
SEED_STUDY = Path(__file__).resolve().parents[1] / "studies" / "tables" / "seeds.json"


def model_configs(config: ReproduceConfig) -> dict[str, TrainConfig]:
    """The models of one skeleton, by results name: strong, weak and L_M alone (λ = 1)."""
    weak = config.training
    return {
        "strong": replace(weak, mode="strong"),
        "weak": weak,
        "lm_only": with_fields(weak, lam=1.0, epochs=config.lm_only_epochs),
    }


def reproduce_skeleton(config: ReproduceConfig, skeleton: str, output: Path) -> tuple[dict[str, dict], MultiViewDataset]:
    """Train and evaluate the models of one skeleton; print its tables; -> the results records by name, the test set."""
    synthetic = f"the synthetic {config.synthetic_size} set" + ("" if config.motion == "synthetic" else
                                                                 f" with the motion of {config.motion}")  # fmt: skip
    with phase(f"data ({skeleton}): {config.dataset or synthetic}"):
        splits = read_splits(config, skeleton)  # generated and cached here, before any worker reads it
        for split in SPLITS:
            print(f"{split:>10}: {splits[split].summary()}")
    models = model_configs(config)
    on_cpu = resolve_device(config.training.device).type == "cpu"
    processes = min(config.processes, len(models)) if on_cpu else 1
    threads = f", {training_threads()} CPU thread each unless {ENVIRONMENT_VARIABLE} says otherwise" if on_cpu else ""
    with phase(f"training {', '.join(models)} ({processes} at a time{threads}), then testing each"):
        records = train_and_report_all(models, splits, output, processes, partial(read_splits, config, skeleton))
    print(table_2(records["strong"], records["weak"]))
    if skeleton == "body":
        print(table_3(records["strong"], records["weak"]))
    return records, splits["test"]


def summarise(records: dict[str, dict], prefix: str = "") -> dict:
    """The summary's figures of one skeleton's records, keys prefixed by ``prefix``."""
    strong, weak, lm_only = (records[name]["evaluation"] for name in ("strong", "weak", "lm_only"))
    figures = {
        "strong_mpjpe_mm": strong["mpjpe_mm"], "weak_mpjpe_mm": weak["mpjpe_mm"],
        "weak_over_strong": weak["mpjpe_mm"] / strong["mpjpe_mm"],
        "weak_over_strong_p_mpjpe": weak["p_mpjpe_mm"] / strong["p_mpjpe_mm"],
        "lm_only_mpjpe_mm": lm_only["mpjpe_mm"], "lm_only_bone_ratio": lm_only["bone_length_ratio"],
        "weak_bone_ratio": weak["bone_length_ratio"], "strong_bone_ratio": strong["bone_length_ratio"],
    }  # fmt: skip
    return {prefix + key: value for key, value in figures.items()}


def reproduce(config: ReproduceConfig) -> dict:
    """Run the models (and with ``hands`` the body + hands pair) and return the summary, also written to
    ``output/summary.json`` (removed first, so an interrupted run leaves none)."""
    started = time.perf_counter()
    resolve_device(config.training.device)  # a device this PyTorch lacks: one line now, not after the data
    output = Path(config.output)
    (output / "summary.json").unlink(missing_ok=True)
    records, test = reproduce_skeleton(config, config.skeleton, output)
    summary = summarise(records)
    weak = config.training
    summary |= {"weak_lambda": weak.loss.lam, "loss_units": weak.loss.units}
    if config.hands:
        summary |= summarise(reproduce_skeleton(config, "body_hands", output / "body_hands")[0], "body_hands_")
    summary |= {"seconds": time.perf_counter() - started, "config": asdict(config)}
    print(
        f"L_M alone (λ = 1) after {config.lm_only_epochs} epochs: mean predicted / true bone length "
        f"{summary['lm_only_bone_ratio']:.3f} (collapsed), MPJPE {summary['lm_only_mpjpe_mm']:.1f} mm; "
        f"weak {summary['weak_bone_ratio']:.3f}, strong {summary['strong_bone_ratio']:.3f}"
    )
    print(
        f"weak (λ = {weak.loss.lam}, {weak.loss.units}) / strong: MPJPE {summary['weak_over_strong']:.3f}, P-MPJPE "
        f"{summary['weak_over_strong_p_mpjpe']:.3f}; {summary['seconds']:.0f} s in all; files in {output}/"
    )
    print(seed_spread(config, summary["weak_over_strong"]))
    write_text_atomic(output / "summary.json", json.dumps(summary, indent=1))
    if test.skeleton_name == "body":  # the OpenPose files hold bodies only
        with phase("a held-out test sequence as Panoptic + OpenPose files"):
            held_out = write_held_out_sequence(test, output)
        print(f"to try `lift` on it (from {Path.cwd()}):")
        print(f"  {_python()} -m weakpose_lite.lift {output / 'weak' / 'best.pt'} {held_out / 'openpose'} "
              f"--calibration {calibration_file(held_out)} -o {output / 'lifted.json'}")  # fmt: skip
    return summary


def seed_spread(config: ReproduceConfig, ratio: float, study: Path = SEED_STUDY) -> str:
    """This run's weak/strong test MPJPE beside its spread over training seeds at the main job's settings (the
    committed records of ``studies/seeds.py``), or why there is none to compare with."""
    main_job = ReproduceConfig()
    same = replace(config, output=main_job.output, processes=main_job.processes,
                   training=replace(config.training, seed=0, device=main_job.training.device))  # fmt: skip
    if same != main_job:
        return "seed spread: none committed for these settings (studies/seeds.py has the main job's defaults only)"
    if not study.exists():
        return f"seed spread: {study} is missing (python studies/seeds.py --run writes it)"
    rows = seed_ratios(json.loads(study.read_text()))
    data = "this set" if config.training.seed == 0 else "the seed-0 set (this run's data seed differs)"
    return (f"seed spread: weak/strong test MPJPE {spread([row['test'] for row in rows])} over training seeds "
            f"{', '.join(str(row['seed']) for row in rows)} on {data} (studies/tables/seeds.md); this run {ratio:.3f}")


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Prints what the command starts, then how long it took: a log on a pipe says what it is doing."""
    started = time.perf_counter()
    print(f"[{name}] ...", flush=True)
    yield
    print(f"[{name}] {time.perf_counter() - started:.0f} s", flush=True)


def _python() -> str:
    """The Python running this command, as a path that works from the current folder (e.g. .venv/bin/python)."""
    interpreter = Path(sys.executable)
    return os.path.relpath(interpreter) if interpreter.is_relative_to(Path.cwd()) else str(interpreter)


def write_held_out_sequence(test: MultiViewDataset, output: Path) -> Path:
    """The first test sequence (body skeleton) in the real formats under ``output/held_out/``; -> its folder."""
    sequence = test.sequence_names[int(test.sequence_index[0])]
    return write_sequence(test, sequence, output / "held_out")


def parse_arguments(argv: list[str] | None = None) -> ReproduceConfig:
    """Command-line arguments -> ``ReproduceConfig`` (one flag per field, the training fields flattened)."""
    parser = CommandParser(prog="python -m weakpose_lite.reproduce", description=__doc__.split("\n\n")[0])
    add_arguments(parser, ReproduceConfig, ReproduceConfig(), exclude=("mode",))
    return from_arguments(ReproduceConfig, parser.parse_args(argv), ReproduceConfig(), exclude=("mode",))


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 on success, 2 with one line on stderr for a bad flag, file or field."""
    return run_command(lambda arguments: reproduce(parse_arguments(arguments)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
