"""How many CPU threads PyTorch uses for training: one per process unless ``WEAKPOSE_THREADS`` says otherwise.

The kit's networks are small (a batch of 8 frames x 16 views through a few hundred units): a second thread gains
little, and on a machine whose cores are busy with other work (a shared laptop, a CI runner, two models trained at
once) PyTorch's default of a thread per core makes the same run many times slower, at random. One thread per
training process keeps the times the notebooks state; set ``WEAKPOSE_THREADS`` (e.g. ``WEAKPOSE_THREADS=4``) on a
machine of your own to use more. ``benchmarks/`` measure the speed at any count.
"""

from __future__ import annotations

import os

import torch

ENVIRONMENT_VARIABLE = "WEAKPOSE_THREADS"


def training_threads() -> int:
    """The threads a training process should use: ``$WEAKPOSE_THREADS`` (a positive integer), else 1."""
    text = os.environ.get(ENVIRONMENT_VARIABLE, "1").strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be a positive integer, got {text!r}")
    return int(text)


def use_training_threads() -> str:
    """Sets PyTorch's threads for this process to ``training_threads()``; -> a line saying so, for a log."""
    threads = training_threads()
    torch.set_num_threads(threads)
    return f"PyTorch threads: {threads} (set {ENVIRONMENT_VARIABLE} to change; see weakpose_lite/threads.py)"
