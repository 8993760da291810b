"""Dropout for the CPU: the same distribution as ``nn.Dropout`` from a quarter of the random numbers.

A speed trick, kept out of ``model`` so that the network reads like §3.4.1; ``model`` uses it in every hidden layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PackedDropout(nn.Dropout):
    """``nn.Dropout`` whose CPU mask compares the four 16-bit lanes of each 64-bit random integer: (...) -> (...).

    Why not torch's own on the CPU: it draws one Bernoulli variate per element, a large share of a weak training step
    at the paper's width (``benchmarks/README.md``); this mask draws one random integer per four elements. The keep
    probability is rounded to a multiple of 1/65536 (exact for 0.25 and 0.5) and the kept units are scaled by its
    inverse, so the expectation is exact. Other devices, evaluation, and p of 0 or 1 use ``nn.Dropout``.
    """

    def forward(self, features: Tensor) -> Tensor:
        """(...) -> (...), each unit zeroed with probability p, the others scaled by 1 / (1 - p)."""
        if not self.training or features.device.type != "cpu" or not 0 < self.p < 1:
            return super().forward(features)
        keep = round((1 - self.p) * 65536)
        words = torch.empty((features.numel() + 3) // 4, dtype=torch.int64, device=features.device)
        lanes = words.random_(-(2**63), 2**63 - 1).view(torch.int16)[: features.numel()].view(features.shape)
        return features * (lanes < keep - 32768).to(features.dtype).mul_(65536 / keep)
