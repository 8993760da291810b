"""The models the notebooks ship: small, loadable, and reproduced by their one seeded command."""

import subprocess
import sys
from pathlib import Path

import pytest

from weakpose_lite.checkpoints import load_checkpoint
from weakpose_lite.reproduce import ReproduceConfig, model_configs
from weakpose_lite.train import load_model

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks" / "checkpoints"


@pytest.mark.parametrize("name", ["strong", "weak"])
def test_each_lesson_checkpoint_is_small_and_holds_the_main_jobs_model(name):
    path = FOLDER / f"{name}.pt"
    assert path.stat().st_size <= 2_000_000
    model, config = load_model(path)
    assert config == model_configs(ReproduceConfig())[name]
    assert model.skeleton.name == "body"
    assert "optimiser" not in load_checkpoint(path)


@pytest.mark.slow
def test_the_command_trains_the_same_models_again():
    script = ROOT / "scripts" / "lesson_checkpoints.py"
    finished = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert finished.stdout.count("retrained") == 2
