"""The benchmark scripts run and report every figure they promise (their speeds are printed, never asserted); the
FLOP count behind the matmul fractions is checked against torch's own counter."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.skeleton import get_skeleton

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(autouse=True)
def _benchmarks_on_the_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # run as scripts, they import benchmarks/timing.py as a neighbour


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _last_line_json(printed: str) -> dict:
    return json.loads(printed.strip().splitlines()[-1])


def _torch_counted_training_flops_per_sample(hidden: int) -> float:
    """torch's own FLOP counter over a forward and backward pass of the network's linear layers (input gradient
    included), per sample: the reference for the benchmark's count."""
    skeleton = get_skeleton("body")
    joints = skeleton.num_joints
    stats = NormalisationStats(torch.zeros(joints, 2), torch.ones(joints, 2), torch.zeros(joints, 3), torch.ones(joints, 3))
    linear = [m for m in LiftingNetwork(ModelConfig(hidden=hidden), skeleton, stats).modules() if isinstance(m, torch.nn.Linear)]
    samples = 5
    features = torch.randn(samples, linear[0].in_features, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        for layer in linear:
            features = layer(features)
        features.sum().backward()
    return counter.get_total_flops() / samples


def test_train_throughput_reports_kit_baseline_and_matmul_figures(capsys):
    figures = _load("train_throughput").main(["--hidden", "32", "--steps", "2", "--matmul-size", "64", "--json",
                                              "--options", "bf16_autocast", "host_copy"])  # fmt: skip
    for key in ("matmul_gflops", "kit_samples_per_s_paper_batch", "kit_samples_per_s_large_batch",
                "dataloader_samples_per_s_paper_batch", "speedup_vs_dataloader", "fraction_of_matmul_peak",
                "fraction_of_matmul_peak_large_batch", "linear_layers_alone_samples_per_s_paper_batch",
                "fraction_of_matmul_peak_linear_layers_alone"):
        assert figures[key] > 0, key
    assert figures["flops_per_sample"] == _torch_counted_training_flops_per_sample(32)
    assert list(figures["speed_options"]) == ["plain", "bf16_autocast", "host_copy"]
    assert all(option["steps_per_s"] > 0 and option["setup_s"] > 0 for option in figures["speed_options"].values())
    assert _last_line_json(capsys.readouterr().out) == figures


@pytest.mark.slow
def test_train_throughput_times_the_compiled_step_beside_the_plain_one(capsys):
    """torch.compile costs tens of seconds here: its own, slow, test."""
    figures = _load("train_throughput").main(["--hidden", "16", "--steps", "2", "--matmul-size", "64", "--options",
                                              "compiled"])  # fmt: skip
    assert set(figures["speed_options"]) == {"plain", "compiled"}
    assert figures["speed_options"]["compiled"]["steps_per_s"] > 0
    assert "compiled" in capsys.readouterr().out


def test_triangulation_benchmark_reports_speed_and_error_of_each_method(capsys):
    figures = _load("triangulation").main(["--joints", "200", "--repeats", "1", "--json"])
    for name in ("ours linear (a), float32", "ours two-step (b), float64"):
        row = figures["methods"][name]
        assert row["joints_per_s"] > 0 and 0 < row["mean_error_mm"] < 10 and row["valid"] == 200, name
    assert _last_line_json(capsys.readouterr().out) == figures


def test_undistort_benchmark_reports_our_error_and_opencvs(capsys):
    figures = _load("undistort").main(["--points", "1000", "--repeats", "1", "--json"])
    ours = figures["methods"]["weakpose undistort float64, 5 steps"]
    assert ours["points_per_s"] > 0 and ours["max_error_px"] < 1e-9
    assert figures["methods"]["cv2.undistortPoints float64, default (5 steps)"]["max_error_px"] > 0
    assert _last_line_json(capsys.readouterr().out) == figures
