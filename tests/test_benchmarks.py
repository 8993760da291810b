"""The benchmark scripts run and report every figure they promise (their speeds are printed, never asserted)."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_throughput_reports_kit_baseline_and_matmul_figures(capsys):
    figures = _load("train_throughput").main(["--hidden", "32", "--steps", "2", "--matmul-size", "64", "--json"])
    for key in ("matmul_gflops", "kit_samples_per_s_paper_batch", "kit_samples_per_s_large_batch",
                "dataloader_samples_per_s_paper_batch", "speedup_over_dataloader", "fraction_of_matmul_paper_batch"):
        assert figures[key] > 0, key
    assert figures["flops_per_sample"] == 6 * (36 * 32 + 4 * 32 * 32 + 32 * 54)
    assert '"speedup_over_dataloader"' in capsys.readouterr().out
