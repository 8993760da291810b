"""The lifting network h_θ (Eq. 1, §3.4.1): a Martinez-style residual MLP from one root-relative 2D pose to 3D.

Six linear layers of 1024 units: an input layer, two residual blocks of two layers each, an output layer; every
hidden linear layer is followed by BatchNorm, ReLU and Dropout (Martinez et al. 2017, Fig. 2 of the paper), weights
initialised with Xavier (Glorot) and biases with zero. For 18 joints this is 4,301,878 parameters.

Input: 2D keypoints in normalised image coordinates (K⁻¹ of the undistorted pixels), relative to the root joint,
standardised by (μ_x, σ_x); missing joints enter as 0 after standardisation (the training mean), and the network
learns to cope because it is trained with missing joints (§3.4.1).
Output: the root-relative 3D pose in the camera frame, in mm: X_r = X_N · σ_X + μ_X, then re-rooted so that the
root is exactly zero.

The statistics are passed in, never computed here: ``NormalisationStats.from_2d`` uses only 2D detections and the
root depths reconstructed from them (what the weakly-supervised path may see); ``from_3d`` uses 3D targets (the
strongly-supervised path, whose targets are themselves triangulated from 2D).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from weakpose_lite.configs import check_field_types, option
from weakpose_lite.dropout import PackedDropout
from weakpose_lite.shapes import check_tensor
from weakpose_lite.skeleton import MAX_RELATIVE_MM, Skeleton, to_relative


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters, with the paper's defaults (§3.4.1); the skeleton is the network's other input."""

    hidden: int = option(1024, "units of each hidden layer")
    residual_blocks: int = option(2, "residual blocks of two layers")
    dropout: float = option(0.5, "dropout probability after each hidden layer")

    def __post_init__(self):
        check_field_types(self)
        if self.hidden < 1 or self.residual_blocks < 0 or not 0 <= self.dropout < 1:
            raise ValueError(
                f"ModelConfig: hidden must be ≥ 1, residual_blocks ≥ 0 and dropout in [0, 1), got hidden {self.hidden}, "
                f"residual_blocks {self.residual_blocks}, dropout {self.dropout}"
            )


# The range of statistics a network lifting people can have (``NormalisationStats.check``). A spread is at least the
# floor put under the root's (its relative coordinates are all 0); below it, standardising multiplies by 1e6 or more.
MIN_SPREAD = 1e-6
# Normalised image coordinates beyond ±10 lie 84 degrees off the optical axis, outside any lens the kit models.
MAX_NORMALISED = 10.0


@dataclass(frozen=True)
class NormalisationStats:
    """Per-coordinate mean and std of the network's input (J, 2) and output (J, 3), §3.4.1."""

    mean_2d: Tensor
    std_2d: Tensor
    mean_3d: Tensor
    std_3d: Tensor

    @classmethod
    def from_2d(cls, relative_2d: Tensor, visible: Tensor, root_depth: Tensor, per_joint: bool = True) -> NormalisationStats:
        """Statistics from 2D only: relative_2d (N, J, 2) normalised coords, visible (N, J), root_depth (N,) mm.

        A pose of normalised spread s at depth Z spans about s·Z mm, so the output statistics are the 2D ones times
        the median root depth. ``per_joint``: each joint's mean and spread in x and y so, and in depth its
        horizontal spread (people turn about the vertical, so a joint's depth offset varies as its horizontal one
        does) with mean 0. Otherwise one spread for every coordinate (the 2D RMS spread × depth) and mean 0. No 3D
        pose is read.
        """
        sizes = check_tensor("NormalisationStats.from_2d", "relative_2d", relative_2d, ("N", "J", 2))
        check_tensor("NormalisationStats.from_2d", "visible", visible, ("N", "J"), "bool", sizes)
        check_tensor("NormalisationStats.from_2d", "root_depth", root_depth, ("N",), sizes=sizes)
        mean_2d, std_2d = _masked_mean_std(relative_2d, visible)
        depth = root_depth.median()
        if per_joint:
            mean_3d = torch.cat([mean_2d * depth, torch.zeros_like(mean_2d[:, :1])], -1)
            std_3d = torch.cat([std_2d, std_2d[:, :1]], -1) * depth
        else:
            mean_3d = relative_2d.new_zeros(relative_2d.shape[-2], 3)
            std_3d = (std_2d.square().mean().sqrt() * depth).expand_as(mean_3d).clone()
        return cls(mean_2d, std_2d, mean_3d, std_3d)

    @classmethod
    def from_3d(cls, relative_2d: Tensor, visible: Tensor, relative_3d: Tensor, valid_3d: Tensor) -> NormalisationStats:
        """Statistics from 2D (N, J, 2) with visible (N, J), and 3D targets (M, J, 3) with valid_3d (M, J)."""
        sizes = check_tensor("NormalisationStats.from_3d", "relative_2d", relative_2d, ("N", "J", 2))
        for name, value, shape, kind in (("visible", visible, ("N", "J"), "bool"), ("relative_3d", relative_3d,
                                         ("M", "J", 3), "float"), ("valid_3d", valid_3d, ("M", "J"), "bool")):  # fmt: skip
            check_tensor("NormalisationStats.from_3d", name, value, shape, kind, sizes)
        mean_2d, std_2d = _masked_mean_std(relative_2d, visible)
        mean_3d, std_3d = _masked_mean_std(relative_3d, valid_3d)
        return cls(mean_2d, std_2d, mean_3d, std_3d)

    def to(self, *args, **kwargs) -> NormalisationStats:
        """Move or cast every statistic, as ``Tensor.to``."""
        return NormalisationStats(*(s.to(*args, **kwargs) for s in (self.mean_2d, self.std_2d, self.mean_3d, self.std_3d)))

    def as_dict(self) -> dict[str, Tensor]:
        """The four statistics by name, for checkpoints."""
        return {"mean_2d": self.mean_2d, "std_2d": self.std_2d, "mean_3d": self.mean_3d, "std_3d": self.std_3d}

    def check(self, source: str, prefix: str = "") -> None:
        """The gate of statistics, wherever they come from (training, a checkpoint): every value finite, spreads at
        least ``MIN_SPREAD``, 2D values within ±``MAX_NORMALISED`` (normalised image coordinates) and 3D ones within
        ±``skeleton.MAX_RELATIVE_MM`` (a person's reach); else a ValueError ``"<source>: <prefix><name>[j, d] must be in [...], got ..."``."""
        for name, value in self.as_dict().items():
            if value.device.type == "meta":  # a meta tensor holds no values to check
                continue
            limit, unit = (MAX_NORMALISED, "normalised image units") if name.endswith("2d") else (MAX_RELATIVE_MM, "mm")
            low = MIN_SPREAD if name.startswith("std") else -limit
            bad = ~((value >= low) & (value <= limit))
            if bad.any():
                index = tuple(bad.nonzero()[0].tolist())
                raise ValueError(f"{source}: {prefix}{name}{list(index)} must be in [{low:g}, {limit:g}] {unit} (a "
                                 f"person's), got {value[index].item():g}")  # fmt: skip


def _masked_mean_std(values: Tensor, mask: Tensor, floor: float = MIN_SPREAD) -> tuple[Tensor, Tensor]:
    """values (N, J, D), mask (N, J) -> mean and std (J, D) over the masked entries; std floored (root has none)."""
    weights = mask.to(values.dtype).unsqueeze(-1)
    count = weights.sum(0).clamp(min=1)
    filled = torch.where(mask.unsqueeze(-1), values, torch.zeros_like(values))
    mean = filled.sum(0) / count
    variance = (weights * (filled - mean).square()).sum(0) / count
    return mean, variance.sqrt().clamp(min=floor)


class ResidualBlock(nn.Module):
    """Two (Linear, BatchNorm, ReLU, Dropout) layers with a skip connection: (N, H) -> (N, H)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(_hidden_layer(hidden, hidden, dropout), _hidden_layer(hidden, hidden, dropout))

    def forward(self, features: Tensor) -> Tensor:
        """(N, H) -> (N, H)."""
        return features + self.layers(features)


def _hidden_layer(inputs: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, outputs), nn.BatchNorm1d(outputs), nn.ReLU(), PackedDropout(dropout))


class LiftingNetwork(nn.Module):
    """h_θ (Eq. 1) for one skeleton: root-relative normalised 2D (N, J, 2) -> root-relative 3D in the camera frame
    (N, J, 3), mm."""

    def __init__(self, config: ModelConfig, skeleton: Skeleton, stats: NormalisationStats):
        super().__init__()
        self.config = config
        self.skeleton = skeleton
        joints = skeleton.num_joints
        self.network = nn.Sequential(
            _hidden_layer(2 * joints, config.hidden, config.dropout),
            *(ResidualBlock(config.hidden, config.dropout) for _ in range(config.residual_blocks)),
            nn.Linear(config.hidden, 3 * joints),
        )
        for name, value in stats.as_dict().items():
            self.register_buffer(name, value.clone().float())
        self.apply(_xavier_init)

    @property
    def stats(self) -> NormalisationStats:
        """The normalisation statistics the network was built with."""
        return NormalisationStats(self.mean_2d, self.std_2d, self.mean_3d, self.std_3d)

    def forward(self, relative_2d: Tensor, visible: Tensor) -> Tensor:
        """relative_2d (N, J, 2) normalised image coords, visible (N, J) bool -> relative 3D (N, J, 3) in mm; the
        input is cast to the network's dtype."""
        sizes = {"J": self.skeleton.num_joints}
        check_tensor("LiftingNetwork", "relative_2d", relative_2d, ("N", "J", 2), sizes=sizes)
        check_tensor("LiftingNetwork", "visible", visible, ("N", "J"), "bool", sizes)
        standardised = (relative_2d.to(self.mean_2d.dtype) - self.mean_2d) / self.std_2d
        standardised = torch.where(visible.unsqueeze(-1), standardised, torch.zeros_like(standardised))
        output = self.network(standardised.flatten(-2)).unflatten(-1, (-1, 3))
        return to_relative(output * self.std_3d + self.mean_3d, self.skeleton.root)


def _xavier_init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
