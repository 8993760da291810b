"""The study script's tables (studies/units_lambda.py), from records: what each cell says is computed from the runs'
saved histories, checked here against the same quantities worked out by hand."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("units_lambda", ROOT / "studies" / "units_lambda.py")
units_lambda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(units_lambda)


def _run(mode: str, mpjpe: list[float], bones: list[float]) -> dict:
    history = [{"epoch": epoch, "monitor_mpjpe_mm": m, "monitor_bone_length_ratio": b}
               for epoch, (m, b) in enumerate(zip(mpjpe, bones), start=1)]  # fmt: skip
    return {"config": {"mode": mode, "max_frames_per_epoch": 4000, "frames_per_batch": 8}, "history": history}


def _rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()[2:]]


def test_curves_table_prints_each_epochs_ratio_and_bone_ratio_every_fourth_to_16_then_every_eighth():
    epochs = 24
    strong = _run("strong", [100.0 - e for e in range(epochs)], [0.9] * epochs)
    weak = _run("weak", [110.0 - e for e in range(epochs)], [0.8 + e / 100 for e in range(epochs)])
    other = _run("weak", [200.0] * epochs, [0.5] * epochs)
    rows = _rows(units_lambda.curves_table({"a": [strong, weak], "b": [strong, other]}))
    assert [row[0] for row in rows] == ["4 (2,000)", "8 (4,000)", "12 (6,000)", "16 (8,000)", "24 (12,000)"]
    epoch = 12  # the row's values, by hand: strong 100 - 11, weak 110 - 11, bone ratio 0.8 + 0.11
    assert rows[2] == [f"{epoch} (6,000)", "89.0", f"{99 / 89:.3f}", "0.910", f"{200 / 89:.3f}", "0.500"]


def test_curves_table_reads_the_committed_budget_studies():
    studies = {name: json.loads((ROOT / "studies" / "tables" / f"{name}.json").read_text())
               for name in ("budget_new", "budget_old")}  # fmt: skip
    rows = _rows(units_lambda.curves_table(studies))
    weak_new = next(r for r in studies["budget_new"] if r["config"]["mode"] == "weak")["history"]
    strong_new = next(r for r in studies["budget_new"] if r["config"]["mode"] == "strong")["history"]
    last = rows[-1]
    assert last[0] == f"{len(strong_new)} ({len(strong_new) * 500:,})"
    assert float(last[2]) == round(weak_new[-1]["monitor_mpjpe_mm"] / strong_new[-1]["monitor_mpjpe_mm"], 3)
