"""Training: the weak path never reads 3D groundtruth, seeded runs repeat, a resumed run equals an uninterrupted one."""

import dataclasses
import json
import sys

import pytest
import torch

from weakpose_lite.checkpoints import TrainingState, load_checkpoint
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.inference import evaluate
from weakpose_lite.losses import LossConfig
from weakpose_lite.model import ModelConfig
from weakpose_lite.train import (
    TrainConfig, batch_terms, build_model, config_from_dict, export_model, load_model, load_or_train, sample_views, train,
    with_fields,
)  # fmt: skip
from weakpose_lite.views import make_views

QUICK = TrainConfig(model=ModelConfig(hidden=32, dropout=0.1), epochs=2, max_frames_per_epoch=48, views_per_frame=8,
                    device="cpu")  # fmt: skip


@pytest.fixture(scope="module")
def splits():
    config = SyntheticConfig.tiny(num_subjects=10, sequences_per_subject=1, frames_per_sequence=40)
    return make_synthetic_splits(config)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_weak_training_runs_without_any_groundtruth_and_gives_the_same_model(splits):
    blind_train, blind_validation = splits["train"].without_groundtruth(), splits["validation"].without_groundtruth()
    assert torch.isnan(blind_train.points_3d).all()
    blind = train(QUICK, blind_train, blind_validation)
    sighted = train(QUICK, splits["train"], splits["validation"])
    assert all(torch.isfinite(p).all() for p in blind.model.parameters())
    assert "validation_mpjpe_mm" not in blind.history[0]
    # Identical weights with and without groundtruth: the weak path cannot have read it.
    assert _same_weights(blind.model, sighted.model)


@pytest.mark.parametrize("mode", ["weak", "strong"])
def test_training_lowers_its_training_and_validation_losses_epoch_after_epoch(splits, mode):
    history = train(with_fields(QUICK, mode=mode, epochs=4, learning_rate=2e-3), splits["train"], splits["validation"]).history
    for key in ("train_loss", "validation_loss"):
        losses = [record[key] for record in history]
        assert all(later < earlier for earlier, later in zip(losses, losses[1:])), (key, losses)
        assert losses[-1] < 0.9 * losses[0], (key, losses)


def test_a_weak_step_goes_down_the_layers_once_and_never_back_into_train(splits):
    """train -> inference (the network) -> losses -> cameras, views, skeleton: once a loss is being computed,
    nothing calls into train.py again (the objectives and their units live beside the losses)."""
    views = make_views(splits["train"], with_targets=False)
    model = build_model(QUICK, views, "body")
    frames = views.trainable_frames[:4]
    view_ids = sample_views(views.usable[frames], 4, torch.Generator().manual_seed(0))
    modules = []

    def record(frame, event, _):
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("weakpose_lite.") and (not modules or modules[-1] != module):
            modules.append(module)

    sys.setprofile(record)
    try:
        batch_terms(model, views, frames, view_ids, QUICK, "perspective")
    finally:
        sys.setprofile(None)
    first_loss = modules.index("weakpose_lite.losses")
    assert modules[0] == "weakpose_lite.train" and "weakpose_lite.train" not in modules[first_loss:], modules
    assert {"weakpose_lite.cameras", "weakpose_lite.skeleton"} <= set(modules[first_loss:]), modules


def test_strong_training_uses_triangulated_targets_not_groundtruth(splits):
    tensors = make_views(splits["train"], with_targets=True)
    frames = tensors.trainable_frames
    valid = tensors.target_valid[frames] & tensors.truth_valid[frames]
    errors = (tensors.targets[frames] - tensors.truth[frames]).norm(dim=-1)  # (N, C, J)
    difference = errors[valid.unsqueeze(1).expand_as(errors)]
    assert 0 < difference.median() < 50  # close to the truth (mm), but not it
    blind = train(dataclasses.replace(QUICK, mode="strong"), splits["train"].without_groundtruth(), splits["validation"])
    sighted = train(dataclasses.replace(QUICK, mode="strong"), splits["train"], splits["validation"])
    assert _same_weights(blind.model, sighted.model)


def test_seeded_runs_are_identical_and_seeds_differ(splits):
    first = train(QUICK, splits["train"], splits["validation"])
    again = train(QUICK, splits["train"], splits["validation"])
    other = train(dataclasses.replace(QUICK, seed=1), splits["train"], splits["validation"])
    assert _same_weights(first.model, again.model)
    assert not _same_weights(first.model, other.model)


def test_resumed_run_reaches_the_same_weights_as_an_uninterrupted_one(splits, tmp_path, monkeypatch):
    config = dataclasses.replace(QUICK, epochs=3, selection="validation_loss")
    straight = train(config, splits["train"], splits["validation"], tmp_path / "straight")
    saved = TrainingState.save

    def interrupted_after_epoch_1(state, path, config):
        saved(state, path, config)
        if path.name == "last.pt" and state.epoch == 1:
            raise KeyboardInterrupt("stopped")

    monkeypatch.setattr(TrainingState, "save", interrupted_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(config, splits["train"], splits["validation"], tmp_path / "resumed")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["epoch"] == 1
    resumed = train(config, splits["train"], splits["validation"], tmp_path / "resumed", resume=True)
    assert _same_weights(straight.model, resumed.model)
    last_straight = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    last_resumed = load_checkpoint(tmp_path / "resumed" / "last.pt")["model"]
    assert all(torch.equal(last_straight[k], last_resumed[k]) for k in last_straight)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]


def test_checkpoint_round_trip_and_clear_errors(splits, tmp_path):
    result = train(QUICK, splits["train"], splits["validation"], tmp_path)
    model, config = load_model(tmp_path / "best.pt")
    assert config == QUICK
    assert _same_weights(model, result.model)
    corrupted = tmp_path / "corrupted.pt"
    corrupted.write_bytes((tmp_path / "best.pt").read_bytes()[:1000])
    with pytest.raises(ValueError, match="corrupted.pt"):
        load_checkpoint(corrupted)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="foreign.pt: not a weakpose-lite checkpoint"):
        load_checkpoint(foreign)
    assert not list(tmp_path.glob("*.part"))


def test_sampled_views_are_distinct_and_usable():
    generator = torch.Generator().manual_seed(0)
    usable = torch.rand(50, 31, generator=generator) > 0.3
    views = sample_views(usable, 16, generator)
    for frame in range(50):
        chosen = views[frame][usable[frame, views[frame]]]
        assert usable[frame, chosen].all()
        assert len(set(chosen.tolist())) == len(chosen) == min(16, int(usable[frame].sum()))


def test_evaluation_needs_groundtruth_and_counts_only_valid_joints(splits):
    result = train(QUICK, splits["train"], splits["validation"])
    test = splits["test"]
    with pytest.raises(ValueError, match="no 3D groundtruth"):
        evaluate(result.model, make_views(test.without_groundtruth(), False), test.skeleton)
    evaluation = evaluate(result.model, make_views(test, False), test.skeleton)
    assert evaluation["mpjpe_mm"] > 0 and len(evaluation["per_joint_mpjpe_mm"]) == 18


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"lam": 1.5}, r"lam must be in \[0, 1\]"),
        ({"lam": float("nan")}, "LossConfig.lam must be a finite float, got float nan"),
        ({"loss_units": "inches"}, "loss_units must be L_M's unit"),
        ({"multiview_unit": "pixels"}, "multiview_unit must be one of cm, mm, normalised"),
        ({"reprojection_views": "some"}, "reprojection_views must be one of sampled, all"),
        ({"huber_delta": 0.0}, "huber_delta must be a positive number"),
        ({"projection": "scaled_orthographic"}, "projection was removed"),
        ({"loss_weight": 1.0}, "TrainConfig has no field loss_weight"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive number"),
        ({"warmup_fraction": -0.1}, r"warmup_fraction must be in \[0, 1\]"),
    ],
)
def test_configurations_that_cannot_train_are_refused_when_built(changes, message):
    with pytest.raises(ValueError, match=message):
        with_fields(QUICK, **changes)


def test_a_validation_split_with_one_view_per_frame_is_refused_before_training(splits):
    validation = splits["validation"]
    one_view = dataclasses.replace(validation, view_mask=validation.view_mask & (torch.arange(validation.num_views) == 0))
    with pytest.raises(ValueError, match="no validation frame has two usable views"):
        train(QUICK, splits["train"], one_view)


def test_a_run_saved_with_an_older_flat_configuration_resumes_exactly(splits, tmp_path, monkeypatch):
    config = dataclasses.replace(QUICK, epochs=2, selection="validation_loss")
    straight = train(config, splits["train"], splits["validation"], tmp_path / "straight")
    saved = TrainingState.save

    def interrupted_after_epoch_1(state, path, config):
        saved(state, path, config)
        if path.name == "last.pt" and state.epoch == 1:
            raise KeyboardInterrupt("stopped")

    monkeypatch.setattr(TrainingState, "save", interrupted_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(config, splits["train"], splits["validation"], tmp_path / "old")
    monkeypatch.undo()
    last = tmp_path / "old" / "last.pt"
    checkpoint = torch.load(last, weights_only=True)
    fields = dataclasses.asdict(config)
    loss = fields.pop("loss")
    checkpoint["config"] = fields | {"lam": loss["lam"], "loss_units": "cm_pixels", "projection": "perspective",
                                     "patience": None, "huber_delta": loss["huber_delta"], "detach_average": False,
                                     "reprojection_views": "sampled"}  # as the kit wrote it before LossConfig
    torch.save(checkpoint, last)
    resumed = train(config, splits["train"], splits["validation"], tmp_path / "old", resume=True)
    assert _same_weights(resumed.model, straight.model)
    with pytest.raises(ValueError, match="last.pt: was written with another configuration"):
        train(dataclasses.replace(config, seed=5), splits["train"], splits["validation"], tmp_path / "old", resume=True)


def test_a_run_killed_between_its_last_files_resumes_to_consistent_files(splits, tmp_path, monkeypatch):
    config = dataclasses.replace(QUICK, epochs=2, selection="validation_loss")
    straight = train(config, splits["train"], splits["validation"], tmp_path / "straight")
    saved = TrainingState.save

    def killed_before_the_last_checkpoint_of_epoch_2(state, path, config):
        if path.name == "last.pt" and state.epoch == 2:
            raise KeyboardInterrupt("killed")
        saved(state, path, config)

    monkeypatch.setattr(TrainingState, "save", killed_before_the_last_checkpoint_of_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(config, splits["train"], splits["validation"], tmp_path / "killed")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"] == 1
    resumed = train(config, splits["train"], splits["validation"], tmp_path / "killed", resume=True)
    assert _same_weights(resumed.model, straight.model)
    history = json.loads((tmp_path / "killed" / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2] == [record["epoch"] for record in resumed.history]
    best = load_checkpoint(tmp_path / "killed" / "best.pt")
    assert best["epoch"] == resumed.best_epoch and load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"] == 2
    assert not list((tmp_path / "killed").glob(".*.part"))


def test_epoch_metrics_are_recorded_and_change_nothing_else(splits):
    calls = []

    def monitor(model) -> dict:
        calls.append(model.training)
        return {"monitor_value": float(len(calls))}

    plain = train(QUICK, splits["train"], splits["validation"])
    monitored = train(QUICK, splits["train"], splits["validation"], epoch_metrics=monitor)
    assert [record["monitor_value"] for record in monitored.history] == [1.0, 2.0]
    assert _same_weights(plain.model, monitored.model)


def test_load_or_train_loads_only_a_model_of_the_same_config_and_data(splits, tmp_path):
    trained = train(QUICK, splits["train"], splits["validation"])
    pretrained = tmp_path / "pretrained.pt"
    export_model(pretrained, trained, QUICK, splits["train"])
    assert pretrained.stat().st_size < 2_000_000
    loaded = load_or_train(dataclasses.replace(QUICK, device="auto"), splits["train"], splits["validation"], pretrained)
    assert _same_weights(loaded.model, trained.model) and loaded.history == trained.history
    assert loaded.best_epoch == trained.best_epoch
    other_seed = load_or_train(dataclasses.replace(QUICK, seed=1), splits["train"], splits["validation"], pretrained,
                               output=tmp_path / "retrained")  # fmt: skip
    assert not _same_weights(other_seed.model, trained.model)
    assert (tmp_path / "retrained" / "model.pt").exists()
    other_data = splits["train"].subset(torch.arange(splits["train"].num_frames // 2))
    retrained = load_or_train(QUICK, other_data, splits["validation"], pretrained)
    assert not _same_weights(retrained.model, trained.model)


def test_fields_are_changed_by_their_command_line_names_in_whichever_config_holds_them():
    changed = with_fields(QUICK, lam=0.3, multiview_unit="mm", hidden=64, seed=2)
    assert (changed.loss.lam, changed.loss.units, changed.model.hidden, changed.seed) == (0.3, "mm_pixels", 64, 2)
    assert changed.model.dropout == QUICK.model.dropout and changed.epochs == QUICK.epochs


@pytest.mark.parametrize(
    "units, pair",
    [("cm_pixels", ("cm", "pixels")), ("mm_pixels", ("mm", "pixels")), ("mm", ("mm", "mm")),
     ("normalised", ("normalised", "normalised"))],
)  # fmt: skip
def test_an_older_flat_config_reads_as_this_versions_nested_one(units, pair):
    """What the lesson checkpoints, study records and results files of earlier versions hold."""
    old = {key: value for key, value in dataclasses.asdict(QUICK).items() if key not in ("loss", "model")}
    old |= {"lam": 0.6, "loss_units": units, "projection": "perspective", "patience": None, "huber_delta": 2.0,
            "detach_average": True, "reprojection_views": "all", "model": {"hidden": 32, "residual_blocks": 2, "dropout": 0.1}}
    config = config_from_dict(old)
    assert (config.loss.multiview_unit, config.loss.reprojection_unit) == pair and config.loss.units == units
    assert config.loss == LossConfig(0.6, *pair, huber_delta=2.0, detach_average=True, reprojection_views="all")
    assert dataclasses.replace(config, loss=QUICK.loss) == QUICK
    assert config_from_dict(dataclasses.asdict(config)) == config


@pytest.mark.parametrize("field, value", [("projection", "scaled_orthographic"), ("patience", 5)])
def test_an_older_config_using_a_removed_choice_is_refused_naming_it(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig.{field} was removed"):
        config_from_dict({**dataclasses.asdict(QUICK), field: value})
