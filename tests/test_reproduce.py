"""The main job end to end on the tiny synthetic set: results files, summary.json, and the printed tables."""

import json
from dataclasses import replace

import pytest

from weakpose_lite import paper
from weakpose_lite.model import ModelConfig
from weakpose_lite.reproduce import QUICK_TRAINING, ReproduceConfig, parse_arguments, reproduce

TINY_TRAINING = replace(QUICK_TRAINING, epochs=1, model=ModelConfig(hidden=32), max_frames_per_epoch=64, device="cpu")


@pytest.mark.slow
def test_reproduce_writes_results_summary_and_prints_both_tables(tmp_path, capsys):
    config = ReproduceConfig(synthetic_size="tiny", output=str(tmp_path / "run"), lm_only_epochs=1, training=TINY_TRAINING)
    summary = reproduce(config)
    printed = capsys.readouterr().out
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert {"strong_mpjpe_mm", "weak_mpjpe_mm", "lm_only_bone_ratio", "weak_lambda", "loss_units"} <= set(written)
    assert (written["weak_lambda"], written["loss_units"]) == (0.8, "cm_pixels")
    assert written["weak_mpjpe_mm"] == summary["weak_mpjpe_mm"] > 0
    for name in ("strong", "weak", "lm_only"):
        record = json.loads((tmp_path / "run" / f"{name}.json").read_text())
        assert len(record["evaluation"]["per_joint_mpjpe_mm"]) == 18
        assert record["protocol"].startswith("protocol: root-relative")
        assert (tmp_path / "run" / name / "best.pt").exists()
    assert "Table 2 (body)" in printed and "Table 3 (body)" in printed
    assert f"{paper.TABLE_2_MPJPE_MM['body']['strong']:.2f}" in printed  # the paper's figure, beside ours
    assert "paper (Panoptic, reported)" in printed
    assert printed.count("protocol: root-relative") == 2
    held_out = next((tmp_path / "run" / "held_out").iterdir())
    assert (held_out / "openpose").is_dir() and list(held_out.glob("calibration_*.json"))


def test_command_line_fills_the_config():
    config = parse_arguments(["--epochs", "3", "--max-frames-per-epoch", "100", "--dataset", "somewhere", "--hidden", "64"])
    assert (config.training.epochs, config.training.max_frames_per_epoch, config.dataset) == (3, 100, "somewhere")
    assert config.training.model.hidden == 64 and config.training.model.dropout == QUICK_TRAINING.model.dropout
    assert parse_arguments([]) == ReproduceConfig()
    config = parse_arguments(["--max-frames-per-epoch", "none", "--dataset", "None", "--hands"])
    assert (config.training.max_frames_per_epoch, config.dataset, config.hands) == (None, None, True)


def test_a_bad_value_fails_before_any_training_in_one_line(tmp_path, capsys):
    from weakpose_lite.reproduce import main

    assert main(["--lam", "1.5", "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == "error: LossConfig.lam must be in [0, 1], got 1.5\n"
    assert main(["--epochs", "0", "--output", str(tmp_path / "run")]) == 2
    assert "epochs must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_interrupted_run_leaves_no_summary_of_an_earlier_one(tmp_path, monkeypatch):
    from weakpose_lite import reproduce as reproduce_module

    output = tmp_path / "run"
    output.mkdir()
    (output / "summary.json").write_text('{"weak_mpjpe_mm": 1.0}')

    def interrupted(*arguments):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(reproduce_module, "train_and_report_all", interrupted)
    config = ReproduceConfig(synthetic_size="tiny", output=str(output), training=TINY_TRAINING)
    with pytest.raises(KeyboardInterrupt):
        reproduce(config)
    assert not (output / "summary.json").exists()


def test_results_files_are_strict_json_with_null_for_missing_figures(tmp_path):
    from weakpose_lite.results import write_results

    write_results(tmp_path / "r.json", {"evaluation": {"per_joint_mpjpe_mm": [float("nan"), 2.0]}, "x": float("nan")})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text
    assert json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name}")) == {
        "evaluation": {"per_joint_mpjpe_mm": [None, 2.0]}, "x": None}


@pytest.mark.slow
def test_models_trained_in_parallel_processes_equal_those_trained_one_after_another(tmp_path):
    figures = {}
    for processes in (1, 2):
        config = ReproduceConfig(synthetic_size="tiny", output=str(tmp_path / f"run{processes}"), lm_only_epochs=1,
                                 training=TINY_TRAINING, processes=processes)  # fmt: skip
        summary = reproduce(config)
        figures[processes] = {key: value for key, value in summary.items() if key.endswith(("_mm", "_ratio"))}
    assert figures[1] == figures[2]
