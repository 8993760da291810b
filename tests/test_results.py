"""Results files: strict JSON both ways (NaN written as null, a bare NaN read back refused naming the file)."""

import json
import math

import pytest

from weakpose_lite.results import load_results, write_results


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
