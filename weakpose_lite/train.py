"""Training h_θ two ways with the same network and hyper-parameters (§3.4): strongly and weakly supervised.

- ``strong``: Huber on the 3D error against poses *triangulated from the 2D detections* (not the groundtruth),
  root-relative, in each view's camera frame.
- ``weak``: λ·L_M + (1 − λ)·L_R (Eq. 3). The averaged pose is re-projected with the root's absolute position
  triangulated from the views (Eq. 8), scaled-orthographically during a warm-up, then in perspective (§3.2.1).
  ``lam = 1`` is L_M alone (it drifts), ``lam = 0`` is L_R alone. This path never reads 3D groundtruth: ``train``
  hands it ``dataset.without_groundtruth()``, and its statistics come from 2D (``NormalisationStats.from_2d``).

Both objectives, and the units of the weak terms (``LossConfig``, default L_M in centimetres and L_R in pixels, the
data's own units), live in ``losses``; a step goes train -> losses -> cameras and back, never into train again.

All the training data lives as ``Views`` on the device; a batch is ``views[frames, view_ids]`` (frames shuffled,
views sampled among those usable), with no per-sample Python. Seeded runs are deterministic on the CPU, also across a
resume.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite import losses
from weakpose_lite.checkpoints import TrainingState, load_checkpoint, write_checkpoint
from weakpose_lite.configs import check_field_types, option
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.inference import evaluate, predict
from weakpose_lite.losses import LossConfig
from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.progress import progress_bar
from weakpose_lite.skeleton import get_skeleton
from weakpose_lite.views import Views, make_views

MODES = ("strong", "weak")
SELECTIONS = ("auto", "validation_mpjpe", "validation_loss")
# Fields older configurations carried, each with the one value it took in every run this kit can still repeat.
REMOVED_FIELDS = {"projection": "perspective", "patience": None}


@dataclass(frozen=True)
class TrainConfig:
    """Every training choice, with the paper's defaults (§3.4.1); the CLI and papermill fill the same fields."""

    mode: str = option("weak", "strong (3D targets triangulated from 2D) or weak (λ·L_M + (1 − λ)·L_R)")
    loss: LossConfig = field(default_factory=LossConfig)
    warmup_fraction: float = option(0.2, "share of the steps re-projected scaled-orthographically (weak only)")
    output_statistics: str = option("per_joint", "the weak network's output mean and spread from 2D: per_joint or isotropic")
    epochs: int = option(100, "epochs")
    frames_per_batch: int = option(8, "frames per batch")
    views_per_frame: int = option(16, "views drawn per frame, among the usable ones")
    learning_rate: float = option(5e-4, "Adam's learning rate")
    lr_decay: float = option(0.96, "learning rate factor per epoch")
    weight_decay: float = option(1e-5, "Adam's weight decay")
    model: ModelConfig = field(default_factory=ModelConfig)
    min_visible_joints: int = option(6, "a view with fewer detected joints is not an input")
    selection: str = option("auto", "validation_mpjpe, validation_loss, or auto (strong: MPJPE, weak: its loss)")
    max_frames_per_epoch: int | None = option(None, "cap an epoch's frames (quick runs); none: every frame once")
    seed: int = option(0, "seed of every random draw")
    device: str = option("auto", "auto (CUDA when available), cpu, cuda, ...")

    def __post_init__(self):
        check_field_types(self)
        _check_choice("mode", self.mode, MODES)
        _check_choice("selection", self.selection, SELECTIONS)
        _check_choice("output_statistics", self.output_statistics, ("per_joint", "isotropic"))
        if not 0 <= self.warmup_fraction <= 1:
            raise ValueError(f"TrainConfig.warmup_fraction must be in [0, 1], got {self.warmup_fraction}")
        for name in ("epochs", "frames_per_batch", "views_per_frame", "min_visible_joints", "max_frames_per_epoch"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.device != "auto":
            _parsed_device(self.device)
        for name in ("learning_rate", "lr_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"TrainConfig.{name} must be a positive number, got {getattr(self, name)}")

    @property
    def selection_metric(self) -> str:
        """What picks the checkpoint: validation MPJPE (needs 3D) or the validation training loss."""
        if self.selection != "auto":
            return self.selection
        return "validation_mpjpe" if self.mode == "strong" else "validation_loss"

    @property
    def label(self) -> str:
        """A short name for progress bars and tables."""
        return "strong" if self.mode == "strong" else f"weak (λ={self.loss.lam}, {self.loss.units})"


def with_fields(config: TrainConfig, **changes) -> TrainConfig:
    """``config`` with ``changes``, each named as on the command line: a field of ``TrainConfig``, ``LossConfig`` or
    ``ModelConfig`` (``lam=0.3``, ``hidden=64``), or ``loss`` / ``model`` whole (a dataclass or a dict).

    Older configurations are read too: ``loss_units`` ("cm_pixels", ...) sets both units (``LossConfig.in_units``),
    and a removed field (``REMOVED_FIELDS``) is dropped when it holds the one value it took in every run this kit
    can still repeat; with any other value it is refused, naming the field.
    """
    changes = dict(changes)
    for name, only_value in REMOVED_FIELDS.items():
        if name in changes and changes.pop(name) != only_value:
            raise ValueError(f"TrainConfig.{name} was removed: only {name}={only_value!r} can still be read")
    loss, model = _nested(LossConfig, changes.pop("loss", config.loss)), _nested(ModelConfig, changes.pop("model", config.model))
    if "loss_units" in changes:
        units = LossConfig.in_units(changes.pop("loss_units"))
        loss = replace(loss, multiview_unit=units.multiview_unit, reprojection_unit=units.reprojection_unit)
    loss = replace(loss, **_taken(changes, LossConfig))
    model = replace(model, **_taken(changes, ModelConfig))
    unknown = set(changes) - {item.name for item in fields(TrainConfig)}
    if unknown:
        raise ValueError(f"TrainConfig has no field {', '.join(sorted(unknown))} (nor LossConfig or ModelConfig)")
    return replace(config, **changes, loss=loss, model=model)


def config_from_dict(saved: dict) -> TrainConfig:
    """A saved configuration (``asdict`` of a ``TrainConfig`` in a checkpoint or a results record, this version's or
    an older flat one) -> the ``TrainConfig``."""
    return with_fields(TrainConfig(), **saved)


def _nested(kind: type, value):
    return kind(**value) if isinstance(value, dict) else value


def _taken(changes: dict, kind: type) -> dict:
    """The entries of ``changes`` that are fields of the dataclass ``kind``, removed from ``changes``."""
    return {item.name: changes.pop(item.name) for item in fields(kind) if item.name in changes}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"TrainConfig.{name} must be one of {', '.join(choices)}, got {value!r}")


def sample_views(usable: Tensor, views_per_frame: int, generator: torch.Generator) -> Tensor:
    """usable (B, C) -> view indices (B, V) drawn without replacement among usable views (unusable ones pad)."""
    scores = torch.rand(usable.shape, generator=generator, device=usable.device)
    scores = torch.where(usable, scores, torch.full_like(scores, -1.0))
    return scores.topk(min(views_per_frame, usable.shape[1]), dim=1).indices


def batch_terms(
    model: LiftingNetwork, views: Views, frames: Tensor, view_ids: Tensor, config: TrainConfig, projection: str
) -> dict[str, Tensor]:
    """The loss terms of the batch ``views[frames, view_ids]`` (B frames (B,), view_ids (B, V)) under the mode."""
    batch = views[frames, view_ids]
    predicted = predict(model, batch)
    if config.mode == "strong":
        return losses.strong_objective(predicted, batch, config.loss)
    seen = batch if config.loss.reprojection_views == "sampled" else views[frames]
    return losses.weak_objective(predicted, batch, seen, config.loss, projection, model.stats)


def build_model(config: TrainConfig, views: Views, skeleton_name: str) -> LiftingNetwork:
    """A fresh network whose statistics come from what the mode may see (weak: 2D only)."""
    inputs, visible = views.relative_2d[views.usable], views.visible[views.usable]
    if config.mode == "weak":
        per_joint = config.output_statistics == "per_joint"
        stats = NormalisationStats.from_2d(inputs, visible, views.root_depth[views.usable], per_joint)
    else:
        target_valid = views.target_valid.unsqueeze(1).expand_as(views.visible)[views.usable]
        stats = NormalisationStats.from_3d(inputs, visible, views.targets[views.usable], target_valid)
    stats.check(f"training data ({skeleton_name}): the network's normalisation statistics")
    return LiftingNetwork(config.model, get_skeleton(skeleton_name), stats)


@torch.no_grad()
def validation_loss(model: LiftingNetwork, views: Views, config: TrainConfig, seed: int = 12345) -> float:
    """The training loss on validation frames (fixed view draw; final projection): selects without any 3D."""
    model.eval()
    generator = torch.Generator(device=views.usable.device).manual_seed(seed)
    total, count = 0.0, 0
    for frames in views.trainable_frames.split(256):
        view_ids = sample_views(views.usable[frames], config.views_per_frame, generator)
        terms = batch_terms(model, views, frames, view_ids, config, "perspective")
        total += terms["loss"].item() * len(frames)
        count += len(frames)
    return total / count


@dataclass
class TrainResult:
    """The trained model (best checkpoint restored) and the per-epoch history."""

    model: LiftingNetwork
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; anything else as given, refused in one line when this PyTorch has no
    such device (``--device cuda`` on a CPU-only build). Every command resolves its device here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = _parsed_device(name)
    available = {"cuda": torch.cuda.device_count(), "mps": int(torch.backends.mps.is_available())}
    if device.type in available and (device.index or 0) >= available[device.type]:
        raise ValueError(f"device {name!r} is not available: this PyTorch ({torch.__version__}) sees "
                         f"{available[device.type]} {device.type} device(s); use --device cpu or auto")  # fmt: skip
    return device


def _parsed_device(name: str) -> torch.device:
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"TrainConfig.device must be auto or a PyTorch device (cpu, cuda, cuda:1, ...), got {name!r}") from error


def train(
    config: TrainConfig,
    train_set: MultiViewDataset,
    validation_set: MultiViewDataset,
    output: str | Path | None = None,
    resume: bool = False,
    epoch_metrics: Callable[[LiftingNetwork], dict[str, float]] | None = None,
) -> TrainResult:
    """Train one model; with ``output`` write ``best.pt``, ``history.json`` and ``last.pt`` there each epoch.

    ``resume`` continues from ``output/last.pt``.
    ``epoch_metrics``, called with the network after each epoch, adds its numbers to that epoch's history (e.g. an
    evaluation against groundtruth held by the caller, to plot learning curves); they select nothing.
    """
    if config.mode == "weak":
        train_set, validation_set = train_set.without_groundtruth(), _validation_view(validation_set, config)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    train_views = _checked_views(train_set, config, "training").to(device)
    validation_views = _checked_views(validation_set, config, "validation").to(device)
    model = build_model(config, train_views, train_set.skeleton_name).to(device)
    # fused: one kernel over all parameters instead of a loop over them (benchmarks/README.md: the step's costs)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=config.lr_decay)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    state = TrainingState(model, optimiser, scheduler, generator)
    if resume:
        state.load(Path(output) / "last.pt", lambda saved: config_from_dict(saved) == config)
    steps_per_epoch = _steps_per_epoch(config, len(train_views.trainable_frames))
    warmup_steps = round(config.warmup_fraction * steps_per_epoch * config.epochs) if config.mode == "weak" else 0
    with progress_bar(total=config.epochs, initial=state.epoch, desc=config.label, unit="epoch", log_each_update=True) as epochs:
        for epoch in range(state.epoch, config.epochs):
            started = time.perf_counter()
            running = _train_epoch(state, train_views, config, steps_per_epoch, warmup_steps, epoch)
            record = {"epoch": epoch + 1, "seconds": time.perf_counter() - started, "lr": scheduler.get_last_lr()[0]}
            record |= {f"train_{k}": v for k, v in running.items()}
            record |= _validate(model, validation_views, config, train_set.skeleton)
            record |= epoch_metrics(model) if epoch_metrics is not None else {}
            scheduler.step()
            state.finish_epoch(record, config, output)
            epochs.set_postfix({k: f"{v:.2f}" for k, v in record.items() if k.startswith(("train_loss", "validation"))})
            epochs.update(1)  # after the postfix: off a terminal this writes the epoch's line
    model.load_state_dict(state.best_weights)
    return TrainResult(model, state.history, state.best_epoch)


def _validation_view(validation_set: MultiViewDataset, config: TrainConfig) -> MultiViewDataset:
    """The weak path sees validation groundtruth only if the user asked to select on validation MPJPE."""
    return validation_set if config.selection_metric == "validation_mpjpe" else validation_set.without_groundtruth()


def _checked_views(dataset: MultiViewDataset, config: TrainConfig, split: str) -> Views:
    """The dataset's views, refused when no frame could train or validate (two usable views, a triangulated root)."""
    views = make_views(dataset, config.mode == "strong", config.min_visible_joints)
    if len(views.trainable_frames) == 0:
        raise ValueError(
            f"{dataset.metadata.get('name', split)}: no {split} frame has two usable views and a triangulated root "
            f"(a usable view shows the root and at least {config.min_visible_joints} joints)"
        )
    if split == "validation" and config.selection_metric == "validation_mpjpe" and views.truth is None:
        raise ValueError(f"{dataset.metadata.get('name', split)}: selection on validation MPJPE needs 3D groundtruth")
    return views


def _steps_per_epoch(config: TrainConfig, frames: int) -> int:
    used = frames if config.max_frames_per_epoch is None else min(frames, config.max_frames_per_epoch)
    return max(1, used // config.frames_per_batch)


def _train_epoch(state, views: Views, config: TrainConfig, steps: int, warmup_steps: int, epoch: int) -> dict:
    """One epoch of Adam steps over shuffled frames; returns the mean of each loss term."""
    state.model.train()
    frames = views.trainable_frames
    order = frames[torch.randperm(len(frames), generator=state.generator, device=frames.device)]
    batches = order[: steps * config.frames_per_batch].split(config.frames_per_batch)
    sums: dict[str, float] = {}
    for step, batch_frames in enumerate(progress_bar(batches, total=steps, leave=False, desc=f"epoch {epoch + 1}")):
        view_ids = sample_views(views.usable[batch_frames], config.views_per_frame, state.generator)
        projection = losses.warmup_projection(epoch * steps + step, warmup_steps)
        terms = batch_terms(state.model, views, batch_frames, view_ids, config, projection)
        state.optimiser.zero_grad(set_to_none=True)
        terms["loss"].backward()
        state.optimiser.step()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + value.detach()
    return {name: (value / steps).item() for name, value in sums.items()}


def _validate(model: LiftingNetwork, views: Views, config: TrainConfig, skeleton) -> dict[str, float]:
    record = {"validation_loss": validation_loss(model, views, config)}
    if views.truth is not None:
        record["validation_mpjpe_mm"] = evaluate(model, views, skeleton)["mpjpe_mm"]
    return record


def export_model(path: str | Path, result: TrainResult, config: TrainConfig, train_set: MultiViewDataset) -> None:
    """The trained network without its optimiser state (a few MB at most), with its configuration, history and the
    fingerprint of the data it was trained on: what ``load_model`` and ``load_or_train`` read."""
    write_checkpoint(path, {
        "config": asdict(config), "skeleton": result.model.skeleton.name, "best_model": result.model.state_dict(),
        "best_epoch": result.best_epoch, "history": json.dumps(result.history), "trained_on": train_set.fingerprint(),
    })  # fmt: skip


def load_or_train(
    config: TrainConfig, train_set: MultiViewDataset, validation_set: MultiViewDataset, pretrained: str | Path,
    output: str | Path | None = None, **train_options,
) -> TrainResult:  # fmt: skip
    """The model of ``config``: read from ``pretrained`` when that file was exported with the same configuration
    (the device aside) from the same training data, else trained now (into ``output``, exported as
    ``output/model.pt``). Notebooks ship such files so that a reader sees results in seconds."""
    if Path(pretrained).exists():
        checkpoint = load_checkpoint(pretrained)
        if _same_training(checkpoint, config, train_set):
            model, _ = load_model(pretrained)
            return TrainResult(model.to(resolve_device(config.device)), json.loads(checkpoint["history"]), checkpoint["best_epoch"])
    result = train(config, train_set, validation_set, output, **train_options)
    if output is not None:
        export_model(Path(output) / "model.pt", result, config, train_set)
    return result


def _same_training(checkpoint: dict, config: TrainConfig, train_set: MultiViewDataset) -> bool:
    """The checkpoint's configuration (read as ``config_from_dict`` reads older ones) is ``config``, the device
    aside, and it was trained on ``train_set``."""
    same_config = replace(config_from_dict(checkpoint["config"]), device=config.device) == config
    return same_config and checkpoint.get("trained_on") == train_set.fingerprint()


def load_model(path: str | Path, best: bool = True) -> tuple[LiftingNetwork, TrainConfig]:
    """A checkpoint -> the network (best weights by default, in eval mode) and its training configuration."""
    checkpoint = load_checkpoint(path)
    try:
        config = config_from_dict(checkpoint["config"])
        weights = checkpoint["best_model" if best else "model"]
        stats = NormalisationStats(*(weights[name] for name in ("mean_2d", "std_2d", "mean_3d", "std_3d")))
        model = LiftingNetwork(config.model, get_skeleton(checkpoint["skeleton"]), stats)
        model.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{path}: a weakpose-lite checkpoint whose network does not load ({type(error).__name__}: {error})") from error
    return model.eval(), config
