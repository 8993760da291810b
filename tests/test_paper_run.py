"""The paper-sized run (scripts/paper_run.py): the paper's budget by default, one reduced epoch end to end (epoch times,
the estimate, Table 2), and an interrupted run that continues to the same models as an uninterrupted one."""

import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("paper_run", ROOT / "scripts" / "paper_run.py")
paper_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paper_run)

REDUCED = ["--synthetic-size", "tiny", "--hidden", "32", "--max-frames-per-epoch", "32", "--device", "cpu"]


def test_the_defaults_are_the_papers_budget_on_the_panoptic_sized_set():
    config, project_to = paper_run.parse_arguments([])
    training = config.training
    assert (training.model.hidden, training.model.dropout, training.epochs) == (1024, 0.5, 100)  # §3.4.1
    assert training.max_frames_per_epoch is None and training.loss.lam == 0.8 and training.loss.units == "cm_pixels"
    assert config.synthetic_size == "panoptic_sized" and config.dataset is None and project_to is None


def test_one_reduced_epoch_prints_its_time_the_estimate_and_table_2(tmp_path, capsys):
    records = paper_run.main([*REDUCED, "--epochs", "1", "--output", str(tmp_path / "run"), "--project-to-frames", "3200"])
    printed = capsys.readouterr().out
    for name in ("strong", "weak"):
        assert f"{name}: epoch " in printed and (tmp_path / "run" / f"{name}.json").exists()
        assert records[name]["config"]["epochs"] == 1 and records[name]["evaluation"]["mpjpe_mm"] > 0
    # 32 frames of 8 per step = 4 steps timed; 3,200 frames = 400 steps projected
    assert "projected to 400 steps an epoch (timed here at 4)" in printed and "100 epochs of both (the paper's budget)" in printed
    assert "Table 2 (body)" in printed and "Table 3 (body)" in printed
    assert (tmp_path / "data").is_dir()  # the data cached beside the output


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return {name: torch.load(folder / name / "last.pt", weights_only=True)["model"] for name in ("strong", "weak")}


@pytest.mark.slow
def test_an_interrupted_run_continues_exactly(tmp_path, monkeypatch, capsys):
    arguments = [*REDUCED, "--epochs", "2"]
    straight = paper_run.main([*arguments, "--output", str(tmp_path / "straight")])
    epoch_done = paper_run.RunClock.epoch_done
    calls = []

    def interrupted(self, label):
        calls.append(label)
        if len(calls) == 2:  # strong's second epoch, before it is saved: last.pt holds epoch 1
            raise KeyboardInterrupt
        return epoch_done(self, label)

    monkeypatch.setattr(paper_run.RunClock, "epoch_done", interrupted)
    with pytest.raises(KeyboardInterrupt):
        paper_run.main([*arguments, "--output", str(tmp_path / "resumed")])
    assert torch.load(tmp_path / "resumed" / "strong" / "last.pt", weights_only=True)["epoch"] == 1
    monkeypatch.undo()
    capsys.readouterr()
    resumed = paper_run.main([*arguments, "--output", str(tmp_path / "resumed")])
    assert "the remaining 2 epochs" in capsys.readouterr().out  # strong's 2nd and weak's 2nd, after strong's 2nd
    for name, weights in _weights(tmp_path / "straight").items():
        assert all(torch.equal(value, _weights(tmp_path / "resumed")[name][key]) for key, value in weights.items())
        assert resumed[name]["evaluation"]["mpjpe_mm"] == straight[name]["evaluation"]["mpjpe_mm"]
