"""The quick reproduction: train strong, weak and L_M-only models on one dataset, print Tables 2 and 3 beside the
paper's, and write the results files and ``summary.json``.

    python -m weakpose_lite.reproduce                     # synthetic default data, a few minutes on 2 CPU cores
    python -m weakpose_lite.reproduce --dataset DIR --epochs 100 --hidden 1024 --dropout 0.5 \\
        --max-frames-per-epoch none --lam 0.8     # the paper's run on built data (a GPU job)

``DIR`` holds ``train.npz``, ``validation.npz`` and ``test.npz`` (``data_scripts/build_panoptic_dataset.py``).

Two weak models are trained: one at ``--lam`` (0.3 by default) and one at the paper's λ = 0.8. In the kit's
normalised loss units, L_M pulls every pose towards the views' consensus with a force that grows with their
disagreement, which shrinks poses while the network is still inaccurate; (1 − λ)·L_R holds them at the right size.
After the few thousand steps of the quick run λ = 0.8 leaves poses about 25% too small; 0.3 had the lowest
validation MPJPE of 0.2, 0.3, 0.4 and 0.8 (the sweep is in the ``train`` module docstring; the test split played no
part in the choice). Both are printed, labelled.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.export import write_sequence
from weakpose_lite.data.panoptic import calibration_file, read_calibration
from weakpose_lite.data.synthetic import SyntheticConfig, load_or_make_synthetic
from weakpose_lite.files import write_text_atomic
from weakpose_lite.results import results_record, table_2, table_3, write_results
from weakpose_lite.train import TrainConfig, evaluate_model, prepare, train


PAPER_LAMBDA = 0.8  # §3.4.1


@dataclass(frozen=True)
class ReproduceConfig:
    """What the quick reproduction runs; the defaults finish in minutes on a 2-core CPU."""

    dataset: str | None = None  # folder with train/validation/test.npz; None: the synthetic default
    synthetic_size: str = "default"  # "tiny" (CI), "default", or "panoptic_sized"
    rig_calibration: str | None = None  # a Panoptic calibration JSON whose HD cameras replace the synthetic dome
    skeleton: str = "body"
    output: str = "results/reproduce"
    epochs: int = 16
    lm_only_epochs: int = 2
    hidden: int = 256
    dropout: float = 0.25
    lam: float = 0.3  # the weak model's λ, chosen on the validation split; the paper's 0.8 is trained beside it
    max_frames_per_epoch: int | None = 4000
    seed: int = 0
    device: str = "auto"


def load_splits(config: ReproduceConfig) -> dict[str, MultiViewDataset]:
    """The train / validation / test datasets: built files from ``config.dataset``, else the synthetic rig."""
    if config.dataset is not None:
        folder = Path(config.dataset)
        return {split: MultiViewDataset.load(folder / f"{split}.npz") for split in ("train", "validation", "test")}

    preset = getattr(SyntheticConfig, config.synthetic_size)() if config.synthetic_size != "default" else SyntheticConfig()
    preset = replace(preset, skeleton=config.skeleton, seed=config.seed)
    rig = None if config.rig_calibration is None else read_calibration(config.rig_calibration).cameras
    return load_or_make_synthetic(preset, Path(config.output).parent / "data", rig)


def run_model(name: str, train_config: TrainConfig, splits: dict, output: Path) -> dict:
    """Train one model, evaluate it on the test split, write its results file; returns the results record."""
    result = train(train_config, splits["train"], splits["validation"], output / name)
    test = splits["test"]
    evaluation = evaluate_model(result.model, prepare(test, with_targets=False), test.skeleton)
    record = results_record(name, train_config, evaluation, test.summary(), result.best_epoch, test.skeleton_name)
    write_results(output / f"{name}.json", record)
    return record


def reproduce(config: ReproduceConfig) -> dict:
    """Run the three models and return the summary (also written to ``output/summary.json``)."""
    started = time.perf_counter()
    output = Path(config.output)
    splits = load_splits(config)
    for split, dataset in splits.items():
        print(f"{split:>10}: {dataset.summary()}")
    common = TrainConfig(
        epochs=config.epochs, hidden=config.hidden, dropout=config.dropout, seed=config.seed, device=config.device,
        max_frames_per_epoch=config.max_frames_per_epoch,
    )  # fmt: skip
    strong = run_model("strong", replace(common, mode="strong"), splits, output)
    weak = run_model("weak", replace(common, mode="weak", lam=config.lam), splits, output)
    paper_lam = config.lam == PAPER_LAMBDA
    paper_config = replace(common, mode="weak", lam=PAPER_LAMBDA)
    weak_paper = weak if paper_lam else run_model("weak_lambda_0.8", paper_config, splits, output)
    lm_only = run_model("lm_only", replace(common, mode="weak", lam=1.0, epochs=config.lm_only_epochs), splits, output)
    print(table_2(strong, weak, {} if paper_lam else {"weak at the paper's λ = 0.8": weak_paper}))
    if config.skeleton == "body":
        print(table_3(strong, weak))
    summary = {
        "strong_mpjpe_mm": strong["evaluation"]["mpjpe_mm"],
        "weak_mpjpe_mm": weak["evaluation"]["mpjpe_mm"],
        "weak_over_strong": weak["evaluation"]["mpjpe_mm"] / strong["evaluation"]["mpjpe_mm"],
        "weak_lambda": config.lam,
        "weak_lambda_0.8_mpjpe_mm": weak_paper["evaluation"]["mpjpe_mm"],
        "weak_lambda_0.8_bone_ratio": weak_paper["evaluation"]["bone_length_ratio"],
        "lm_only_mpjpe_mm": lm_only["evaluation"]["mpjpe_mm"],
        "lm_only_bone_ratio": lm_only["evaluation"]["bone_length_ratio"],
        "weak_bone_ratio": weak["evaluation"]["bone_length_ratio"],
        "strong_bone_ratio": strong["evaluation"]["bone_length_ratio"],
        "seconds": time.perf_counter() - started,
        "config": config.__dict__,
    }
    print(
        f"L_M alone (λ = 1) after {config.lm_only_epochs} epochs: mean predicted / true bone length "
        f"{summary['lm_only_bone_ratio']:.3f} (collapsed), MPJPE {summary['lm_only_mpjpe_mm']:.1f} mm; "
        f"weak {summary['weak_bone_ratio']:.3f}, strong {summary['strong_bone_ratio']:.3f}"
    )
    print(
        f"weak (λ = {config.lam}) / strong = {summary['weak_over_strong']:.3f}; at λ = 0.8: "
        f"{summary['weak_lambda_0.8_mpjpe_mm'] / summary['strong_mpjpe_mm']:.3f} (bone ratio "
        f"{summary['weak_lambda_0.8_bone_ratio']:.3f}); {summary['seconds']:.0f} s in all; files in {output}/"
    )
    write_text_atomic(output / "summary.json", json.dumps(summary, indent=1))
    held_out = write_held_out_sequence(splits["test"], output)
    print(f"a held-out test sequence, as Panoptic + OpenPose files to try `lift` on: {held_out}")
    print(f"  python -m weakpose_lite.lift {output / 'weak' / 'best.pt'} {held_out / 'openpose'} "
          f"--calibration {calibration_file(held_out)} -o {output / 'lifted.json'}")
    return summary


def write_held_out_sequence(test: MultiViewDataset, output: Path) -> Path:
    """The first test sequence in the real formats under ``output/held_out/`` (body skeleton only); -> its folder."""
    sequence = test.sequence_names[int(test.sequence_index[0])]
    return write_sequence(test, sequence, output / "held_out") if test.skeleton_name == "body" else output


def parse_arguments(argv: list[str] | None = None) -> ReproduceConfig:
    """Command-line arguments -> ``ReproduceConfig`` (one flag per field)."""
    parser = argparse.ArgumentParser(prog="python -m weakpose_lite.reproduce", description=__doc__.split("\n\n")[0])
    defaults = ReproduceConfig()
    for item in fields(ReproduceConfig):
        default = getattr(defaults, item.name)
        kind = {"int": int, "float": float}.get(item.type.split(" ")[0], str)
        if "None" in item.type:
            kind = _none_or(kind)
        parser.add_argument(f"--{item.name.replace('_', '-')}", type=kind, default=default, help=f"default: {default}")
    return ReproduceConfig(**vars(parser.parse_args(argv)))


def _none_or(kind: type):
    """A command-line type that reads "none" as None (e.g. ``--max-frames-per-epoch none``: every frame)."""

    def convert(text: str):
        return None if text.lower() == "none" else kind(text)

    convert.__name__ = kind.__name__  # argparse names the type in its error messages
    return convert


if __name__ == "__main__":
    reproduce(parse_arguments())
