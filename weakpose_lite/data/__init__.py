"""Datasets: the in-memory type, the synthetic Panoptic-like rig, and the CMU Panoptic / OpenPose file formats."""

from weakpose_lite.data.dataset import MultiViewDataset

__all__ = ["MultiViewDataset"]
