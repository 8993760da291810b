"""The study script (studies/units_lambda.py): its tables from records (checked against values worked out by hand,
and the committed tables and the README's against what the script prints from the committed records), its command
line (a plan before any training, every default in --help), and its runs through submitit: a small grid in real
subprocesses (submitit's local executor) that resumes by training only the run whose record is missing, and the
resources a Slurm job would ask for."""

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.data.synthetic.detections import DetectionConfig

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"
TABLES = STUDIES / "tables"
sys.path.insert(0, str(STUDIES))  # the script imports studies/executors.py as its neighbour, as when run
spec = importlib.util.spec_from_file_location("units_lambda", STUDIES / "units_lambda.py")
units_lambda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(units_lambda)
import executors  # noqa: E402  (studies/executors.py, found through the path above)
import gap_attribution  # noqa: E402  (studies/gap_attribution.py)
import hands_report  # noqa: E402  (studies/hands_report.py)
import seeds  # noqa: E402  (studies/seeds.py)
import split_report  # noqa: E402  (studies/split_report.py)

COMMITTED = ("units_lambda", "levers", "budget_new", "budget_old", "budget_paper_width")


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


def _committed(name: str) -> list[dict]:
    return json.loads((TABLES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", COMMITTED)
def test_each_committed_table_is_what_the_script_prints_from_its_committed_records(name):
    assert units_lambda.reprinted_table(name, TABLES) == (TABLES / f"{name}.md").read_text().rstrip("\n")


@pytest.mark.parametrize("name", ["units_lambda", "levers", "budget_paper_width"])
def test_the_readmes_result_tables_are_what_the_script_prints(name):
    body = units_lambda.reprinted_table(name, TABLES).split("\n\n", 1)[1]
    assert body in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("names", [("budget_new", "budget_old"), ("budget_paper_width", "budget_new")])
def test_the_readmes_learning_curves_are_what_the_script_prints(names):
    assert units_lambda.curves_table({name: _committed(name) for name in names}) in (ROOT / "README.md").read_text()


def test_without_run_the_grid_is_printed_as_a_plan_and_nothing_trains(tmp_path, capsys):
    assert units_lambda.main(["--output", str(tmp_path / "runs")]) == 0
    printed = capsys.readouterr().out
    runs = 1 + 4 * 6 + 4  # strong, 4 units × 6 λ, L_M alone in each unit (counted by hand from the defaults)
    assert f"would train {runs} runs (0 of {runs} already have a record" in printed
    assert sum(line.startswith("  weak_") or line == "  strong" for line in printed.splitlines()) == runs
    assert "add --run" in printed and not (tmp_path / "runs").exists()


def test_help_shows_the_default_of_every_flag():
    parser = units_lambda.build_parser()
    flags = [action for action in parser._actions if action.option_strings and action.dest != "help"]
    help_text = " ".join(parser.format_help().split())
    assert help_text.count("(default: ") == len(flags) > 20
    assert "(default: local)" in help_text and "(default: ['normalised', 'mm', 'mm_pixels', 'cm_pixels'])" in help_text


def _study(directory: Path, *extra: str) -> str:
    """The study script run as a user runs it, in ``directory``: a 2-run learning-curve study on the tiny set."""
    command = [sys.executable, str(STUDIES / "units_lambda.py"), "--synthetic-size", "tiny", "--budget", "--units",
               "cm_pixels", "--budget-epochs", "1", "--set", "hidden=16", "--set", "max_frames_per_epoch=16",
               "--output", "runs", "--tables", "tables", "--submitit-folder", "submitit", "--run", *extra]  # fmt: skip
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_submitit_local_trains_the_runs_in_subprocesses_and_a_rerun_trains_only_the_missing_one(tmp_path):
    first = _study(tmp_path, "--executor", "submitit-local")
    assert "0 of 2 runs already finished" in first and "submitted 2 submitit-local jobs" in first
    records = {path.name: path for path in (tmp_path / "runs").glob("*.json")}
    assert sorted(records) == ["strong_epochs=1_hidden=16_max_frames_per_epoch=16_data=tiny.json",
                               "weak_cm_pixels_lam0.8_epochs=1_hidden=16_max_frames_per_epoch=16_data=tiny.json"]  # fmt: skip
    logs = list((tmp_path / "submitit").glob("*/*_log.err"))
    assert len(logs) == 2  # each run was its own submitit job, with its own log
    strong, weak = sorted(records.values())
    kept = (strong.read_bytes(), strong.stat().st_mtime_ns)
    weak.unlink()  # the interruption: one run's record lost
    second = _study(tmp_path, "--executor", "submitit-local")
    assert "1 of 2 runs already finished" in second and "submitted 1 submitit-local jobs" in second
    assert (strong.read_bytes(), strong.stat().st_mtime_ns) == kept and weak.exists()
    assert len(list((tmp_path / "submitit").glob("*/*_log.err"))) == 3
    table = (tmp_path / "tables" / "budget.md").read_text()
    assert "| strong |" in table and "| weak | cm_pixels | 0.8 |" in table
    assert json.loads((tmp_path / "tables" / "budget.json").read_text())[1]["name"] == weak.stem


def test_slurm_jobs_ask_for_the_resources_given_on_the_command_line(tmp_path, monkeypatch):
    fake_slurm = tmp_path / "bin"
    fake_slurm.mkdir()
    (fake_slurm / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_slurm / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_slurm}:{os.environ['PATH']}")  # submitit looks for srun
    options = units_lambda.parse_arguments(["--executor", "slurm", "--slurm-partition", "gpu", "--slurm-time", "90",
                                            "--slurm-cpus", "4", "--slurm-gpus", "1", "--slurm-mem-gb", "16", "--jobs",
                                            "3", "--submitit-folder", str(tmp_path / "jobs")])  # fmt: skip
    script = executors.submitit_executor(options)._executor._make_submission_file_text("python run.py", "0")
    for line in ("--partition=gpu", "--time=90", "--cpus-per-task=4", "--gpus-per-node=1", "--mem=16GB"):
        assert f"#SBATCH {line}\n" in script, line
    assert executors.threads_per_run(options) == 4


def test_the_committed_seed_table_and_the_readmes_are_what_the_seed_study_prints_from_its_records():
    table = seeds.table(_committed("seeds"))
    assert table in (TABLES / "seeds.md").read_text() and table in (ROOT / "README.md").read_text()
    assert len(_committed("seeds")) >= 6 and table.count("\n| ") >= 4  # three seeds or more, then the spread row


def test_the_seed_study_prints_its_plan_without_run_and_refuses_a_single_seed(tmp_path, capsys):
    assert seeds.main(["--output", str(tmp_path / "runs")]) == 0
    plan = capsys.readouterr().out
    assert "  strong_seed=2\n  weak_cm_pixels_lam0.8_seed=2\n" in plan and not (tmp_path / "runs").exists()
    assert seeds.main(["--seeds", "0", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --seeds must name at least two different seeds for a spread, got [0, 0]"


def test_split_report_nearest_pose_is_the_brute_force_minimum_and_leaves_out_the_own_sequence():
    generator = torch.Generator().manual_seed(0)
    poses, train = torch.randn(5, 4, 3, generator=generator, dtype=torch.float64), torch.randn(7, 4, 3, generator=generator, dtype=torch.float64)
    sequences, train_sequences = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([0, 1, 1, 2, 2, 3, 3])
    for same_split in (False, True):
        expected = torch.tensor([
            min(float((pose - other).norm(dim=-1).mean()) for other, other_sequence in zip(train, train_sequences)
                if not (same_split and other_sequence == sequence))
            for pose, sequence in zip(poses, sequences)
        ], dtype=torch.float64)  # fmt: skip
        found = split_report.nearest_training_pose(poses, sequences, train, train_sequences, same_split)
        torch.testing.assert_close(found, expected)


def test_split_report_prints_every_row_for_each_split_of_the_tiny_set(capsys):
    assert split_report.main(["--synthetic-size", "tiny", "--poses", "50"]) == 0
    table = capsys.readouterr().out
    body = table.split("\n\n", 1)[1]
    rows = _rows(body)
    assert body.startswith("| | train | validation | test |") and len(rows) == 12
    assert all(len(row) == 4 and all(cell for cell in row) for row in rows)
    assert split_report.main(["--poses", "0"]) == 2


def test_the_attribution_chains_run_from_noiseless_to_the_default_and_leave_out_one_group_each():
    assert gap_attribution.detection_groups_cover_noiseless()
    conditions = gap_attribution.detection_conditions()
    names = list(conditions)
    assert names[0] == "noiseless" and conditions["noiseless"] == DetectionConfig.noiseless()
    assert names[5] == "+ confidence (= default)" and conditions[names[5]] == DetectionConfig()
    assert conditions["+ pixel noise"].noise_floor_px == 2.0 and conditions["+ pixel noise"].miss_rate == 0.0
    without_tails = conditions["default − heavy tails"]
    assert without_tails.heavy_tail_rate == 0.0 and replace(without_tails, heavy_tail_rate=0.03) == DetectionConfig()
    assert len(conditions) == 1 + 2 * len(gap_attribution.GROUPS)
    assert gap_attribution.conditions()["views per frame: 8"] == (SyntheticConfig(), {"views_per_frame": 8}, {})


def test_a_lever_changes_the_weak_objective_only_and_its_strong_run_is_the_defaults_record(tmp_path):
    plan = gap_attribution.plan_runs([0, 1])
    runs = {(condition, config.mode, config.seed): (data, config) for condition, data, config in plan}
    default = "+ confidence (= default)"
    for lever, changes in gap_attribution.LEVERS.items():
        assert lever.startswith("lever: ")
        for seed in (0, 1):
            strong, weak = runs[lever, "strong", seed], runs[lever, "weak", seed]
            assert gap_attribution.record_path(tmp_path, *strong) == gap_attribution.record_path(tmp_path, *runs[default, "strong", seed])
            assert strong[1] == runs[default, "strong", seed][1]
            assert weak[1] == replace(runs[default, "weak", seed][1], loss=replace(runs[default, "weak", seed][1].loss, **changes))
            assert gap_attribution.record_path(tmp_path, *weak) != gap_attribution.record_path(tmp_path, *runs[default, "weak", seed])
    for both, (strong_delta, weak_delta) in gap_attribution.STRONG_TOO.items():  # the weak run is a lever's, shared
        (weak_lever,) = [name for name, lever in gap_attribution.LEVERS.items() if lever == {"huber_delta": weak_delta}]
        for seed in (0, 1):
            assert runs[both, "strong", seed][1].loss == replace(runs[default, "strong", seed][1].loss, huber_delta=strong_delta)
            assert gap_attribution.record_path(tmp_path, *runs[both, "weak", seed]) == gap_attribution.record_path(
                tmp_path, *runs[weak_lever, "weak", seed])
    paths = {gap_attribution.record_path(tmp_path, data, config) for _, data, config in plan}
    # shared: each lever's two strong runs, each STRONG_TOO condition's two weak runs, + gross errors (= default −
    # confidence)
    assert len(paths) == len(plan) - 2 * len(gap_attribution.LEVERS) - 2 * len(gap_attribution.STRONG_TOO) - 4


def test_the_residual_quantiles_the_levers_are_chosen_on_rise_from_10_to_99_percent_for_each_term():
    validation = make_synthetic_splits(SyntheticConfig.tiny())["validation"]
    text = gap_attribution.residual_quantiles(ROOT / "notebooks" / "checkpoints" / "weak.pt", validation, frames=50)
    rows = _rows(text.split("\n\n", 1)[1])
    assert [row[0] for row in rows] == ["L_M, cm", "L_R, px"] and "on 50 validation frames" in text
    for row in rows:
        quantiles = [float(cell) for cell in row[1:]]
        assert len(quantiles) == 7 and quantiles == sorted(quantiles) and quantiles[0] >= 0 and quantiles[-1] > quantiles[0]


def _attribution_record(condition: str, mode: str, seed: int, test: float, validation: float) -> dict:
    return {"condition": condition, "config": {"mode": mode, "seed": seed}, "test": {"mpjpe_mm": test, "p_mpjpe_mm": test / 2},
            "validation": {"mpjpe_mm": validation}}  # fmt: skip


def test_the_attribution_table_averages_seeds_and_gives_the_test_ratios_range():
    records = [_attribution_record("noiseless", "strong", 0, 100.0, 50.0), _attribution_record("noiseless", "weak", 0, 101.0, 51.0),
               _attribution_record("noiseless", "strong", 1, 100.0, 50.0), _attribution_record("noiseless", "weak", 1, 103.0, 52.0)]  # fmt: skip
    rows = _rows(gap_attribution.table(records))
    assert rows == [["noiseless", "100.0", "102.0", "1.020 (1.010–1.030)", "1.020", "1.030"]]


def test_the_committed_attribution_table_and_the_readmes_are_what_the_study_prints_from_its_records():
    table = gap_attribution.table(_committed("gap_attribution"))
    assert table in (TABLES / "gap_attribution.md").read_text() and table in (ROOT / "README.md").read_text()
    assert len(_rows(table)) == len(gap_attribution.conditions())


def test_hands_report_groups_the_joints_and_implies_the_papers_hand_mean_by_hand(tmp_path):
    from weakpose_lite.results import write_results
    from weakpose_lite.skeleton import BODY_HANDS

    joints = list(BODY_HANDS.joints)
    per_joint = [None if name == "neck" else 200.0 if name.endswith("_4") and "_hand_" in name else 150.0
                 if "_hand_" in name else 80.0 for name in joints]  # fmt: skip
    for model, mean in (("strong", 140.0), ("weak", 141.0)):
        write_results(tmp_path / f"{model}.json", {"skeleton": "body_hands", "joints": joints, "protocol": "protocol: test",
                      "evaluation": {"mpjpe_mm": mean, "per_joint_mpjpe_mm": per_joint}})  # fmt: skip
    rows = {row[0]: row[1:] for row in _rows(hands_report.report(tmp_path).split("\n\n")[0])}
    assert rows["mean of the body"] == ["80.0 (17 joints)"] * 2
    assert rows["mean of the hands"] == [f"{(32 * 150 + 10 * 200) / 42:.1f} (42 joints)"] * 2
    assert rows["mean of the hands: finger joint 4 (tip)"] == ["200.0 (10 joints)"] * 2
    assert rows["mean of the hands: wrist keypoint"] == ["150.0 (2 joints)"] * 2
    share = 100 * (32 * 150 + 10 * 200) / (17 * 80 + 32 * 150 + 10 * 200)
    assert rows["hand joints' share of the summed error, %"] == [f"{share:.0f}"] * 2
    implied = (84.115 * 59 - 71.013 * 17) / 42  # the paper's strong: body 71.013, body + hands 84.115
    assert rows["paper: hand-joint mean implied, if its 59 joints are averaged alike"][0] == f"{implied:.1f}"


def test_the_readme_shows_the_committed_hands_and_split_tables():
    for name in ("hands_report", "split_report"):
        table = (TABLES / f"{name}.md").read_text().split("\n\n", 1)[1].strip("\n")
        assert table in (ROOT / "README.md").read_text(), name
