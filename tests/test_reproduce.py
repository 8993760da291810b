"""The main job end to end on the tiny synthetic set: results files, summary.json, and the printed tables."""

import json

from weakpose_lite import paper
from weakpose_lite.reproduce import ReproduceConfig, parse_arguments, reproduce


def test_reproduce_writes_results_summary_and_prints_both_tables(tmp_path, capsys):
    config = ReproduceConfig(synthetic_size="tiny", output=str(tmp_path / "run"), epochs=1, lm_only_epochs=1, hidden=32,
                             max_frames_per_epoch=64, device="cpu")  # fmt: skip
    summary = reproduce(config)
    printed = capsys.readouterr().out
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert {"strong_mpjpe_mm", "weak_mpjpe_mm", "lm_only_bone_ratio"} <= set(written)
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
    config = parse_arguments(["--epochs", "3", "--max-frames-per-epoch", "100", "--dataset", "somewhere"])
    assert (config.epochs, config.max_frames_per_epoch, config.dataset) == (3, 100, "somewhere")
    assert parse_arguments([]) == ReproduceConfig()
    config = parse_arguments(["--max-frames-per-epoch", "none", "--dataset", "None"])
    assert (config.max_frames_per_epoch, config.dataset) == (None, None)


def test_at_the_papers_lambda_the_weak_model_is_trained_once(tmp_path, capsys):
    config = ReproduceConfig(synthetic_size="tiny", output=str(tmp_path / "run"), epochs=1, lm_only_epochs=1, hidden=32,
                             max_frames_per_epoch=64, lam=0.8, device="cpu")  # fmt: skip
    summary = reproduce(config)
    assert not (tmp_path / "run" / "weak_lambda_0.8").exists()
    assert summary["weak_lambda_0.8_mpjpe_mm"] == summary["weak_mpjpe_mm"]
    assert "weak at the paper's" not in capsys.readouterr().out
