"""Results files: strict JSON both ways (NaN written as null, a bare NaN read back refused naming the file); the
seed study's ratios and spread, and the main job's line that compares its ratio with them."""

import json
import math
from dataclasses import replace

import pytest

from weakpose_lite import reproduce, results
from weakpose_lite.reproduce import ReproduceConfig
from weakpose_lite.results import load_results, write_results
from weakpose_lite.train import with_fields


def test_a_missing_figure_is_written_as_null_and_read_back(tmp_path):
    write_results(tmp_path / "weak.json", {"evaluation": {"mpjpe_mm": 98.5, "per_joint": [1.0, math.nan]}})
    assert load_results(tmp_path / "weak.json") == {"evaluation": {"mpjpe_mm": 98.5, "per_joint": [1.0, None]}}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_file_that_is_not_strict_json_is_refused_naming_it(tmp_path, constant):
    path = tmp_path / "weak.json"
    path.write_text(f'{{"evaluation": {{"mpjpe_mm": {constant}}}}}')
    with pytest.raises(ValueError, match=rf"weak.json: not strict JSON: {constant} where a number or null belongs"):
        load_results(path)


def test_a_reported_model_is_evaluated_on_the_views_its_own_min_visible_joints_allows(tmp_path):
    """The test split's views are those the run's configuration makes usable, not the default's (6 joints)."""
    from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
    from weakpose_lite.inference import evaluate
    from weakpose_lite.model import ModelConfig
    from weakpose_lite.results import train_and_report
    from weakpose_lite.train import TrainConfig, load_model
    from weakpose_lite.views import make_views

    splits = make_synthetic_splits(SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=40))
    config = TrainConfig(model=ModelConfig(hidden=32, dropout=0.1), epochs=1, max_frames_per_epoch=16, views_per_frame=8,
                         min_visible_joints=14, device="cpu")  # fmt: skip
    test = splits["test"]
    strict, default = make_views(test, False, 14), make_views(test, False)
    assert strict.usable.sum() < default.usable.sum()  # the two rules pick different views here
    record = train_and_report("weak", config, splits, tmp_path)
    model, _ = load_model(tmp_path / "weak" / "model.pt")
    assert record["evaluation"]["valid_joints"] == evaluate(model, strict, test.skeleton)["valid_joints"]
    assert record["evaluation"]["mpjpe_mm"] == evaluate(model, strict, test.skeleton)["mpjpe_mm"]
    assert record["evaluation"]["valid_joints"] != evaluate(model, default, test.skeleton)["valid_joints"]
    # the learning curve's validation MPJPE (one epoch: the exported model's) on the same rule
    [epoch] = json.loads((tmp_path / "weak" / "history.json").read_text())
    validation = make_views(splits["validation"], False, 14)
    assert epoch["monitor_mpjpe_mm"] == evaluate(model, validation, test.skeleton)["mpjpe_mm"]


def _study_record(mode: str, seed: int, test: float, validation: float) -> dict:
    return {"config": {"mode": mode, "seed": seed}, "test": {"mpjpe_mm": test, "p_mpjpe_mm": test / 2},
            "validation": {"mpjpe_mm": validation}}  # fmt: skip


def test_seed_ratios_pair_each_seeds_weak_with_its_strong_and_spread_is_mean_sd_range():
    records = [_study_record("weak", 1, 110.0, 88.0), _study_record("strong", 0, 100.0, 80.0),
               _study_record("strong", 1, 100.0, 80.0), _study_record("weak", 0, 103.0, 84.0)]  # fmt: skip
    rows = results.seed_ratios(records)
    assert [row["seed"] for row in rows] == [0, 1]
    assert [row["test"] for row in rows] == pytest.approx([1.03, 1.10])
    assert [row["validation"] for row in rows] == pytest.approx([1.05, 1.10])
    assert rows[0]["test_p_mpjpe"] == pytest.approx(1.03) and rows[1]["weak_test"] == 110.0
    # mean 1.065, sample sd |1.10 - 1.03| / sqrt(2)
    assert results.spread([1.03, 1.10]) == f"1.065 ± {0.07 / 2**0.5:.3f} (1.030–1.100)"
    with pytest.raises(ValueError, match="at least two values"):
        results.spread([1.0])


def test_the_main_job_prints_its_ratio_beside_the_committed_seed_spread_only_at_its_settings(tmp_path):
    study = tmp_path / "seeds.json"
    study.write_text(json.dumps([_study_record("strong", 0, 100.0, 80.0), _study_record("weak", 0, 103.0, 84.0),
                                 _study_record("strong", 1, 100.0, 80.0), _study_record("weak", 1, 105.0, 84.0)]))  # fmt: skip
    line = reproduce.seed_spread(ReproduceConfig(output=str(tmp_path)), 1.035, study)
    assert line.startswith("seed spread: weak/strong test MPJPE 1.040 ± 0.014 (1.030–1.050) over training seeds 0, 1")
    assert line.endswith("this run 1.035")
    changed = replace(ReproduceConfig(), training=with_fields(ReproduceConfig().training, lam=0.6))
    assert "none committed for these settings" in reproduce.seed_spread(changed, 1.0, study)
    assert "is missing" in reproduce.seed_spread(ReproduceConfig(), 1.0, tmp_path / "absent.json")
