"""Training h_θ two ways with the same network and hyper-parameters (§3.4): strongly and weakly supervised.

- ``strong``: Huber on the 3D error against poses *triangulated from the 2D detections* (not the groundtruth),
  root-relative, in each view's camera frame.
- ``weak``: λ·L_M + (1 − λ)·L_R (Eq. 3). The averaged pose is re-projected with the root's absolute position
  triangulated from the views (Eq. 8), scaled-orthographically during a warm-up, then in perspective (§3.2.1).
  ``lam = 1`` is L_M alone (it drifts), ``lam = 0`` is L_R alone. This path never reads 3D groundtruth: ``train``
  hands it ``dataset.without_groundtruth()``, and its statistics come from 2D (``NormalisationStats.from_2d``).

Units of the weak terms. The paper does not state them, and λ means nothing without them: Huber's δ = 1 splits each
term into a quadratic zone (pull ∝ residual) and a linear one (constant pull), and the units decide which zone the
residuals sit in. ``loss_units`` chooses (L_M's unit / L_R's unit, δ = 1 in each):
- ``"cm_pixels"`` (default): the dataset's native units, centimetres for L_M (CMU Panoptic's 3D unit) and raw
  pixels for L_R (OpenPose's 2D unit), as the paper's data came. Nearly every residual is in Huber's linear zone, so
  each term pulls with a constant force; with about 2 mm of subject per pixel in Panoptic's dome, one centimetre of
  3D error costs L_R about five pixels, and at λ = 0.8 the two pulls balance: (1 − λ) · 5 ≈ λ · 1.
- ``"normalised"``: both in the network's normalised units (§3.4.1): L_M divides world-frame residuals by the output
  scale σ_X, L_R divides normalised-image residuals (pixels / f) by the input scale σ_x; σ_X = σ_x × the median root
  depth (both from 2D, ``NormalisationStats.from_2d``). Most residuals then sit in the quadratic zone, where L_M's
  pull towards agreement grows with the views' disagreement r and shrinks the poses by about λr / ((1 − λ) + λr):
  λ = 0.8 leaves them ~25% too small after a short run.
- ``"mm"``: L_M in mm, L_R in mm at the subject (pixel residual × Z_root / f).
- ``"mm_pixels"``: L_M in mm, L_R in raw pixels.
- ``"mixed"``: L_M normalised, L_R in raw pixels (L_R then sits in Huber's linear zone and dominates).
How λ and the units behave together is measured by ``studies/units_lambda.py`` (its table is in the README).

All the training data lives as tensors on the device; a batch is gathered by index (frames, then views sampled
among those present), with no per-sample Python. Seeded runs are deterministic on the CPU, also across a resume.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from weakpose_lite import losses, metrics
from weakpose_lite.cameras import pixels_to_normalised, rotate_to_camera, rotate_to_world, undistort, world_to_camera
from weakpose_lite.cameras import normalised_to_pixels
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.files import atomic_path, write_text_atomic
from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.skeleton import Skeleton, to_relative
from weakpose_lite.triangulation import triangulate

CHECKPOINT_VERSION = 1
MM_PER_CM = 10.0
LOSS_UNITS = ("cm_pixels", "normalised", "mm", "mm_pixels", "mixed")


@dataclass(frozen=True)
class TrainConfig:
    """Every training choice, with the paper's defaults (§3.4.1); the CLI and papermill fill the same fields."""

    mode: str = "weak"  # "strong" or "weak"
    lam: float = 0.8  # λ of Eq. 3 (weak only)
    loss_units: str = "cm_pixels"  # L_M in cm, L_R in pixels (the data's own units); others: the module docstring
    projection: str = "perspective"  # after the warm-up
    warmup_fraction: float = 0.2  # share of the steps that use the scaled-orthographic projection (weak only)
    detach_average: bool = False  # stop the gradient through W̄ (the paper leaves it open)
    epochs: int = 100
    frames_per_batch: int = 8
    views_per_frame: int = 16
    learning_rate: float = 5e-4
    lr_decay: float = 0.96  # per epoch
    weight_decay: float = 1e-5
    huber_delta: float = 1.0
    hidden: int = 1024
    residual_blocks: int = 2
    dropout: float = 0.5
    min_visible_joints: int = 6  # a view with fewer detected joints is not used as an input
    selection: str = "auto"  # "validation_mpjpe", "validation_loss", or "auto" (strong: MPJPE, weak: weak loss)
    patience: int | None = None  # stop after this many epochs without improvement; None: run every epoch
    max_frames_per_epoch: int | None = None  # cap an epoch (quick runs); None: every training frame once
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        if self.mode not in ("strong", "weak"):
            raise ValueError(f"mode must be 'strong' or 'weak', got {self.mode!r}")
        if self.loss_units not in LOSS_UNITS:
            raise ValueError(f"loss_units must be one of {LOSS_UNITS}, got {self.loss_units!r}")
        if self.selection not in ("auto", "validation_mpjpe", "validation_loss"):
            raise ValueError(f"selection must be auto, validation_mpjpe or validation_loss, got {self.selection!r}")
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")

    @property
    def selection_metric(self) -> str:
        """What picks the checkpoint: validation MPJPE (needs 3D) or the validation training loss."""
        if self.selection != "auto":
            return self.selection
        return "validation_mpjpe" if self.mode == "strong" else "validation_loss"


@dataclass(frozen=True)
class ViewTensors:
    """A dataset made ready for the network, F frames × C views × J joints, all on one device.

    relative_2d (F, C, J, 2) root-relative normalised image coords (0 where not visible); visible (F, C, J);
    usable (F, C) views fit as inputs; pixels (F, C, J, 2) undistorted detections; K, R (F, C, 3, 3); t (F, C, 3);
    root_world (F, 3) triangulated root, mm; root_depth (F, C) its depth in each view; frames (N,) frames with ≥ 2
    usable views and a triangulated root; targets (F, C, J, 3) and target_valid (F, J): triangulated root-relative
    3D in each camera frame (strong only, else None); truth (F, C, J, 3) and truth_valid (F, J): groundtruth, for
    evaluation only (None when the dataset has none).
    """

    relative_2d: Tensor
    visible: Tensor
    usable: Tensor
    pixels: Tensor
    K: Tensor
    R: Tensor
    t: Tensor
    root_world: Tensor
    root_depth: Tensor
    frames: Tensor
    targets: Tensor | None = None
    target_valid: Tensor | None = None
    truth: Tensor | None = None
    truth_valid: Tensor | None = None


def prepare(dataset: MultiViewDataset, with_targets: bool, min_visible_joints: int = 6) -> ViewTensors:
    """A dataset -> the tensors training and evaluation read (see ``ViewTensors``); triangulates from its 2D."""
    root = dataset.skeleton.root
    cameras = dataset.frame_cameras()
    visible = dataset.visible
    normalised = undistort(pixels_to_normalised(dataset.keypoints_2d, cameras.K), cameras.dist)
    normalised = torch.where(visible.unsqueeze(-1), normalised, torch.zeros_like(normalised))
    usable = dataset.view_mask & visible[..., root] & (visible.sum(-1) >= min_visible_joints)
    relative_2d = torch.where(visible.unsqueeze(-1), to_relative(normalised, root), torch.zeros_like(normalised))
    joints = slice(None) if with_targets else slice(root, root + 1)
    triangulated = triangulate(dataset.keypoints_2d[:, :, joints], dataset.confidence[:, :, joints], dataset.view_mask, cameras)
    root_index = root if with_targets else 0
    root_world = triangulated.points[:, root_index]
    root_valid = triangulated.valid[:, root_index]
    root_depth = world_to_camera(root_world[:, None, None], cameras.R, cameras.t)[..., 0, 2]
    frames = torch.nonzero(root_valid & (usable.sum(1) >= 2)).squeeze(1)
    targets = target_valid = None
    if with_targets:
        targets = rotate_to_camera(to_relative(triangulated.points, root).unsqueeze(1), cameras.R)
        target_valid = triangulated.valid & root_valid.unsqueeze(1)
    truth, truth_valid = _groundtruth(dataset, cameras.R)
    return ViewTensors(
        relative_2d, visible, usable, normalised_to_pixels(normalised, cameras.K), cameras.K, cameras.R, cameras.t,
        root_world, root_depth, frames, targets, target_valid, truth, truth_valid,
    )  # fmt: skip


def _groundtruth(dataset: MultiViewDataset, R: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """Root-relative groundtruth in each camera frame (F, C, J, 3) and its validity (F, J), or (None, None)."""
    valid = dataset.has_groundtruth
    if not valid.any():
        return None, None
    root = dataset.skeleton.root
    valid = valid & valid[:, root : root + 1]
    points = torch.where(valid.unsqueeze(-1), dataset.points_3d, torch.zeros_like(dataset.points_3d))
    return rotate_to_camera(to_relative(points, root).unsqueeze(1), R), valid


def _to_device(tensors: ViewTensors, device: torch.device) -> ViewTensors:
    moved = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in tensors.__dict__.items()}
    return ViewTensors(**moved)


def sample_views(usable: Tensor, views_per_frame: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """usable (B, C) -> view indices (B, V) drawn without replacement among usable views, and their mask (B, V)."""
    scores = torch.rand(usable.shape, generator=generator, device=usable.device)
    scores = torch.where(usable, scores, torch.full_like(scores, -1.0))
    views = min(views_per_frame, usable.shape[1])
    chosen_scores, chosen = scores.topk(views, dim=1)
    return chosen, chosen_scores >= 0


@dataclass(frozen=True)
class Batch:
    """B frames × V views gathered from ``ViewTensors``; each field as there with (F, C) replaced by (B, V)."""

    relative_2d: Tensor
    visible: Tensor
    view_mask: Tensor
    pixels: Tensor
    K: Tensor
    R: Tensor
    t: Tensor
    root_world: Tensor
    root_depth: Tensor
    targets: Tensor | None
    target_valid: Tensor | None


def gather_batch(tensors: ViewTensors, frames: Tensor, views: Tensor, view_mask: Tensor) -> Batch:
    """Frames (B,) and views (B, V) indices -> the ``Batch`` of those (frame, view) pairs."""
    pick = (frames[:, None], views)
    return Batch(
        tensors.relative_2d[pick], tensors.visible[pick], view_mask, tensors.pixels[pick], tensors.K[pick],
        tensors.R[pick], tensors.t[pick], tensors.root_world[frames], tensors.root_depth[pick],
        None if tensors.targets is None else tensors.targets[pick],
        None if tensors.target_valid is None else tensors.target_valid[frames],
    )  # fmt: skip


def predict_batch(model: LiftingNetwork, batch: Batch) -> Tensor:
    """A batch -> the network's root-relative camera-frame predictions (B, V, J, 3), mm."""
    B, V, J, _ = batch.relative_2d.shape
    flat = model(batch.relative_2d.reshape(B * V, J, 2), batch.visible.reshape(B * V, J))
    return flat.reshape(B, V, J, 3)


def weak_terms(
    predicted: Tensor, batch: Batch, config: TrainConfig, projection: str, stats: NormalisationStats
) -> dict[str, Tensor]:
    """Predictions (B, V, J, 3) -> {"multiview": L_M, "reprojection": L_R, "loss": Eq. 3}, in ``config.loss_units``."""
    world = rotate_to_world(predicted, batch.R)  # Eq. 5
    average = losses.average_pose(world, batch.view_mask)  # Eq. 6
    target = average.detach() if config.detach_average else average
    multiview_scale, reprojection_scale = loss_scales(batch, config.loss_units, stats)
    multiview = losses.multiview_consistency_loss(
        world / multiview_scale, target / multiview_scale, batch.view_mask, config.huber_delta
    )
    reprojected = losses.reproject_average_pose(average, batch.root_world, batch.K, batch.R, batch.t, projection)
    visible = batch.visible & batch.view_mask.unsqueeze(-1)
    reprojection = losses.reprojection_loss(reprojected, batch.pixels, visible, reprojection_scale, config.huber_delta)
    return {"multiview": multiview, "reprojection": reprojection, "loss": losses.weak_loss(multiview, reprojection, config.lam)}


def loss_scales(batch: Batch, units: str, stats: NormalisationStats) -> tuple[Tensor | float, Tensor | None]:
    """A batch (B views of F frames) -> what L_M's residuals are divided by, what L_R's pixel residuals (B, V) are
    multiplied by (None: raw pixels), in the given ``loss_units``."""
    focal = (batch.K[..., 0, 0] + batch.K[..., 1, 1]) / 2  # (B, V)
    if units == "cm_pixels":
        return MM_PER_CM, None
    if units == "mm_pixels":
        return 1.0, None
    if units == "mixed":
        return stats.std_3d.mean(), None
    if units == "mm":
        return 1.0, batch.root_depth / focal
    input_scale = stats.std_2d.square().mean().sqrt()
    return stats.std_3d.mean(), 1 / (focal * input_scale)


def strong_terms(predicted: Tensor, batch: Batch, config: TrainConfig) -> dict[str, Tensor]:
    """Predictions (B, V, J, 3) -> {"loss": Huber of the 3D error against the triangulated targets}."""
    valid = batch.target_valid.unsqueeze(1) & batch.view_mask.unsqueeze(-1)
    return {"loss": losses.supervised_loss(predicted, batch.targets, valid, config.huber_delta)}


def batch_terms(model: LiftingNetwork, batch: Batch, config: TrainConfig, projection: str) -> dict[str, Tensor]:
    """The loss terms of one batch under the configured mode."""
    predicted = predict_batch(model, batch)
    if config.mode == "strong":
        return strong_terms(predicted, batch, config)
    return weak_terms(predicted, batch, config, projection, model.stats)


def build_model(config: TrainConfig, tensors: ViewTensors, num_joints: int, root: int) -> LiftingNetwork:
    """A fresh network whose statistics come from what the mode may see (weak: 2D only)."""
    inputs = tensors.relative_2d[tensors.usable]
    visible = tensors.visible[tensors.usable]
    if config.mode == "weak":
        stats = NormalisationStats.from_2d(inputs, visible, tensors.root_depth[tensors.usable])
    else:
        targets = tensors.targets[tensors.usable]
        target_valid = tensors.target_valid.unsqueeze(1).expand_as(tensors.visible)[tensors.usable]
        stats = NormalisationStats.from_3d(inputs, visible, targets, target_valid)
    model_config = ModelConfig(num_joints, config.hidden, config.residual_blocks, config.dropout, root)
    return LiftingNetwork(model_config, stats)


@torch.no_grad()
def predict_views(model: LiftingNetwork, tensors: ViewTensors, batch_size: int = 8192) -> tuple[Tensor, Tensor]:
    """Predictions for every usable (frame, view) pair of the prepared frames: (N, J, 3) mm and their (N, 2) indices."""
    model.eval()
    pairs = torch.nonzero(tensors.usable[tensors.frames])
    pairs[:, 0] = tensors.frames[pairs[:, 0]]
    outputs = [
        model(tensors.relative_2d[chunk[:, 0], chunk[:, 1]], tensors.visible[chunk[:, 0], chunk[:, 1]])
        for chunk in pairs.split(batch_size)
    ]
    return torch.cat(outputs) if outputs else tensors.relative_2d.new_zeros(0, tensors.visible.shape[-1], 3), pairs


def evaluate_model(model: LiftingNetwork, tensors: ViewTensors, skeleton: Skeleton) -> dict[str, object]:
    """Every metric of ``metrics.PROTOCOL`` over the usable test views with groundtruth."""
    if tensors.truth is None:
        raise ValueError("this dataset has no 3D groundtruth to evaluate against")
    predicted, pairs = predict_views(model, tensors)
    truth = tensors.truth[pairs[:, 0], pairs[:, 1]]
    valid = tensors.truth_valid[pairs[:, 0]]
    return metrics.evaluate(predicted.cpu(), truth.cpu(), valid.cpu(), skeleton)


@torch.no_grad()
def validation_loss(model: LiftingNetwork, tensors: ViewTensors, config: TrainConfig, seed: int = 12345) -> float:
    """The training loss on validation frames (fixed view draw; final projection): selects without any 3D."""
    model.eval()
    generator = torch.Generator(device=tensors.usable.device).manual_seed(seed)
    total, count = 0.0, 0
    for frames in tensors.frames.split(256):
        views, view_mask = sample_views(tensors.usable[frames], config.views_per_frame, generator)
        terms = batch_terms(model, gather_batch(tensors, frames, views, view_mask), config, config.projection)
        total += terms["loss"].item() * len(frames)
        count += len(frames)
    return total / max(count, 1)


@dataclass
class TrainResult:
    """The trained model (best checkpoint restored) and the per-epoch history."""

    model: LiftingNetwork
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    config: TrainConfig,
    train_set: MultiViewDataset,
    validation_set: MultiViewDataset,
    output: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    epoch_metrics: Callable[[LiftingNetwork], dict[str, float]] | None = None,
) -> TrainResult:
    """Train one model; with ``output`` write ``last.pt``, ``best.pt`` and ``history.json`` there each epoch.

    ``resume`` continues from ``output/last.pt``. ``stop_after_epochs`` ends the call early (to test resuming).
    ``epoch_metrics``, called with the network after each epoch, adds its numbers to that epoch's history (e.g. an
    evaluation against groundtruth held by the caller, to plot learning curves); they select nothing.
    """
    if config.mode == "weak":
        train_set, validation_set = train_set.without_groundtruth(), _validation_view(validation_set, config)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    train_tensors = _to_device(prepare(train_set, config.mode == "strong", config.min_visible_joints), device)
    validation_tensors = _to_device(prepare(validation_set, config.mode == "strong", config.min_visible_joints), device)
    skeleton = train_set.skeleton
    model = build_model(config, train_tensors, skeleton.num_joints, skeleton.root).to(device)
    # fused: one kernel over all parameters; ~20% faster per step than the default on this 2-core CPU
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=config.lr_decay)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    state = _TrainingState(model, optimiser, scheduler, generator)
    if resume:
        state.load(Path(output) / "last.pt", config)
    steps_per_epoch = _steps_per_epoch(config, len(train_tensors.frames))
    warmup_steps = round(config.warmup_fraction * steps_per_epoch * config.epochs) if config.mode == "weak" else 0
    epochs = tqdm(range(state.epoch, config.epochs), desc=f"{config.mode} (λ={config.lam})" if config.mode == "weak" else "strong")
    for epoch in epochs:
        started = time.perf_counter()
        running = _train_epoch(state, train_tensors, config, steps_per_epoch, warmup_steps, epoch)
        record = {"epoch": epoch + 1, "seconds": time.perf_counter() - started, "lr": scheduler.get_last_lr()[0]}
        record |= {f"train_{k}": v for k, v in running.items()}
        record |= _validate(model, validation_tensors, config, skeleton)
        record |= epoch_metrics(model) if epoch_metrics is not None else {}
        scheduler.step()
        state.finish_epoch(record, config, output)
        epochs.set_postfix({k: f"{v:.2f}" for k, v in record.items() if k.startswith(("train_loss", "validation"))})
        if state.should_stop(config) or (stop_after_epochs is not None and epoch + 1 - state.started_at >= stop_after_epochs):
            break
    model.load_state_dict(state.best_weights)
    return TrainResult(model, state.history, state.best_epoch)


def _validation_view(validation_set: MultiViewDataset, config: TrainConfig) -> MultiViewDataset:
    """The weak path sees validation groundtruth only if the user asked to select on validation MPJPE."""
    return validation_set if config.selection_metric == "validation_mpjpe" else validation_set.without_groundtruth()


def _steps_per_epoch(config: TrainConfig, frames: int) -> int:
    if frames == 0:
        raise ValueError("no training frame has two usable views and a triangulated root")
    used = frames if config.max_frames_per_epoch is None else min(frames, config.max_frames_per_epoch)
    return max(1, used // config.frames_per_batch)


def _train_epoch(state, tensors: ViewTensors, config: TrainConfig, steps: int, warmup_steps: int, epoch: int) -> dict:
    """One epoch of Adam steps over shuffled frames; returns the mean of each loss term."""
    state.model.train()
    order = tensors.frames[torch.randperm(len(tensors.frames), generator=state.generator, device=tensors.frames.device)]
    sums: dict[str, float] = {}
    for step, frames in enumerate(tqdm(order[: steps * config.frames_per_batch].split(config.frames_per_batch), total=steps, leave=False, desc=f"epoch {epoch + 1}")):
        views, view_mask = sample_views(tensors.usable[frames], config.views_per_frame, state.generator)
        projection = "scaled_orthographic" if epoch * steps + step < warmup_steps else config.projection
        terms = batch_terms(state.model, gather_batch(tensors, frames, views, view_mask), config, projection)
        state.optimiser.zero_grad(set_to_none=True)
        terms["loss"].backward()
        state.optimiser.step()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + value.detach()
    return {name: (value / steps).item() for name, value in sums.items()}


def _validate(model: LiftingNetwork, tensors: ViewTensors, config: TrainConfig, skeleton: Skeleton) -> dict[str, float]:
    record = {"validation_loss": validation_loss(model, tensors, config)}
    if tensors.truth is not None:
        record["validation_mpjpe_mm"] = evaluate_model(model, tensors, skeleton)["mpjpe_mm"]
    return record


class _TrainingState:
    """What a resumed run needs to continue exactly: weights, optimiser, schedule, random streams, history."""

    def __init__(self, model, optimiser, scheduler, generator):
        self.model, self.optimiser, self.scheduler, self.generator = model, optimiser, scheduler, generator
        self.epoch = 0
        self.started_at = 0
        self.history: list[dict] = []
        self.best_score = float("inf")
        self.best_epoch = -1
        self.best_weights = {k: v.clone() for k, v in model.state_dict().items()}

    def finish_epoch(self, record: dict, config: TrainConfig, output: str | Path | None) -> None:
        """Log the epoch, keep the best weights, and write last.pt / best.pt / history.json under ``output``."""
        self.history.append(record)
        self.epoch = record["epoch"]
        score = record["validation_mpjpe_mm" if config.selection_metric == "validation_mpjpe" else "validation_loss"]
        improved = score < self.best_score
        if improved:
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
        if output is not None:
            folder = Path(output)
            save_checkpoint(folder / "last.pt", self, config)
            if improved:
                save_checkpoint(folder / "best.pt", self, config)
            write_text_atomic(folder / "history.json", json.dumps(self.history, indent=1))

    def should_stop(self, config: TrainConfig) -> bool:
        """Early stopping: ``config.patience`` epochs without a better selection score."""
        return config.patience is not None and self.epoch - self.best_epoch >= config.patience

    def load(self, path: Path, config: TrainConfig) -> None:
        """Restore everything from ``path`` (written with the same configuration) to continue exactly."""
        checkpoint = load_checkpoint(path)
        if checkpoint["config"] != asdict(config):
            raise ValueError(f"{path}: was written with another configuration; resume with the same one")
        self.model.load_state_dict(checkpoint["model"])
        self.optimiser.load_state_dict(checkpoint["optimiser"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        self.history = json.loads(checkpoint["history"])
        self.epoch = self.started_at = checkpoint["epoch"]
        self.best_score, self.best_epoch = checkpoint["best_score"], checkpoint["best_epoch"]
        self.best_weights = checkpoint["best_model"]


def save_checkpoint(path: Path, state: _TrainingState, config: TrainConfig) -> None:
    """Write weights, optimiser, schedule, random streams, statistics, configuration and epoch, atomically."""
    checkpoint = {
        "format": "weakpose-lite checkpoint",
        "version": CHECKPOINT_VERSION,
        "config": asdict(config),
        "model_config": asdict(state.model.config),
        "model": state.model.state_dict(),
        "best_model": state.best_weights,
        "optimiser": state.optimiser.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "generator": state.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "epoch": state.epoch,
        "best_epoch": state.best_epoch,
        "best_score": state.best_score,
        "history": json.dumps(state.history),
    }
    with atomic_path(path) as temporary:
        torch.save(checkpoint, temporary)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; a damaged or foreign file gets an error naming it."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file; report them all the same way
        raise ValueError(f"{path}: not a readable weakpose-lite checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != "weakpose-lite checkpoint":
        raise ValueError(f"{path}: not a weakpose-lite checkpoint (no 'format' field)")
    if checkpoint.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version must be {CHECKPOINT_VERSION}, got {checkpoint.get('version')!r}")
    return checkpoint


def load_model(path: str | Path, best: bool = True) -> tuple[LiftingNetwork, TrainConfig]:
    """A checkpoint -> the network (best weights by default, in eval mode) and its training configuration."""
    checkpoint = load_checkpoint(path)
    model_config = ModelConfig(**checkpoint["model_config"])
    weights = checkpoint["best_model" if best else "model"]
    stats = NormalisationStats(*(weights[name] for name in ("mean_2d", "std_2d", "mean_3d", "std_3d")))
    model = LiftingNetwork(model_config, stats)
    model.load_state_dict(weights)
    return model.eval(), TrainConfig(**checkpoint["config"])
