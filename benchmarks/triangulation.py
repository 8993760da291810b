"""Benchmark: speed (joints/s) and accuracy (mm) of triangulation over the 31 Panoptic HD views.

Random joints in a person-sized volume at the centre of the real HD dome (calibration_160906_band1.json, or a
synthetic dome of the same kind when that file is absent) are projected through the lenses, perturbed by Gaussian
pixel noise, dropped where they fall outside a 1920x1080 image, and triangulated by:
  (a) ``triangulate_linear`` (our closed-form DLT step), (b) ``triangulate`` (DLT + Levenberg-Marquardt, §3.4),
  (c) aniposelib 0.8's ``CameraGroup.triangulate`` (OpenCV undistortion + a jax SVD DLT per point), when installed.
Each is timed on the same detections, best of ``--repeats`` runs after a warm-up (jax compiles on its first call).

    .venv/bin/python benchmarks/triangulation.py [--joints 20000] [--noise-px 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from weakpose_lite.cameras import Camera, look_at_rotation, pixels_to_normalised, project, undistort
from weakpose_lite.data.panoptic import read_calibration
from weakpose_lite.triangulation import triangulate, triangulate_linear

CALIBRATION = Path("/work/shared/data/real/panoptic_mmpose/160906_band1/calibration_160906_band1.json")
IMAGE_SIZE = (1920, 1080)
JOINTS_PER_FRAME = 20


def panoptic_cameras(path: Path) -> tuple[Camera, str]:
    """The 31 real HD cameras (C,) in mm, float64, or a synthetic dome like them when the file is absent."""
    if path.exists():
        return read_calibration(path, "hd", torch.float64).cameras, f"real HD rig ({path.name})"
    angle = torch.arange(31, dtype=torch.float64) * (2 * math.pi / 31)
    height = torch.linspace(-3400, -740, 31, dtype=torch.float64)
    center = torch.stack([2450 * torch.cos(angle), height, 2450 * torch.sin(angle)], dim=-1)
    R = look_at_rotation(center, torch.tensor([0.0, -1000.0, 0.0], dtype=torch.float64), torch.tensor([0.0, -1.0, 0.0]).double())
    K = torch.tensor([[1600.0, 0.0, 950.0], [0.0, 1600.0, 560.0], [0.0, 0.0, 1.0]], dtype=torch.float64).repeat(31, 1, 1)
    dist = torch.tensor([-0.23, 0.2, 0.0, 0.0, 0.02], dtype=torch.float64).repeat(31, 1)
    return Camera(K, R, -(R @ center.unsqueeze(-1)).squeeze(-1), dist), "synthetic 31-camera dome (real file absent)"


def make_detections(cameras: Camera, joints: int, noise_px: float, seed: int):
    """Truth (F, J, 3) mm and noisy detections (F, C, J, 2) px with confidence (F, C, J) and view_mask (F, C)."""
    generator = torch.Generator().manual_seed(seed)
    frames = math.ceil(joints / JOINTS_PER_FRAME)
    unit = torch.rand(frames, JOINTS_PER_FRAME, 3, generator=generator, dtype=torch.float64)
    truth = torch.tensor([-500.0, -1800.0, -500.0]) + unit * torch.tensor([1000.0, 1750.0, 1000.0])
    clean = project(truth.unsqueeze(-3), cameras)
    keypoints = clean + noise_px * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    inside = ((clean >= 0) & (clean <= torch.tensor(IMAGE_SIZE, dtype=torch.float64) - 1)).all(-1)
    confidence = inside.to(torch.float64)
    return truth, torch.where(inside[..., None], keypoints, 0), confidence, torch.ones(frames, cameras.t.shape[0], dtype=torch.bool)


def best_time(function, repeats: int):
    """(seconds of the fastest of ``repeats`` calls after one warm-up call, the last result)."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def aniposelib_triangulator(cameras: Camera):
    """A function (C, N, 2) px with NaN where missing -> (N, 3) mm, or None with the reason aniposelib is missing."""
    try:
        import cv2
        from aniposelib.cameras import Camera as AniposeCamera
        from aniposelib.cameras import CameraGroup
    except ImportError as error:
        return None, f"aniposelib not importable ({error}); install it with .venv/bin/pip install aniposelib==0.8.0"
    group = CameraGroup([
        AniposeCamera(matrix=K.numpy(), dist=dist.numpy(), rvec=cv2.Rodrigues(R.numpy())[0].ravel(), tvec=t.numpy(), size=IMAGE_SIZE)
        for K, R, t, dist in zip(cameras.K, cameras.R, cameras.t, cameras.dist)
    ])
    return (lambda points: group.triangulate(points, undistort=True)), None


def run(args: argparse.Namespace) -> dict:
    """Time every method on the same detections; figures as a dict."""
    if args.threads:
        torch.set_num_threads(args.threads)
    cameras, rig = panoptic_cameras(args.calibration)
    truth, keypoints, confidence, view_mask = make_detections(cameras, args.joints, args.noise_px, args.seed)
    joints = truth.shape[0] * truth.shape[1]
    visible = (confidence > 0).sum(-2)
    figures = {
        "rig": rig, "views": cameras.t.shape[0], "joints": joints, "noise_px": args.noise_px,
        "mean_views_per_joint": round(visible.double().mean().item(), 2), "torch_threads": torch.get_num_threads(),
        "methods": {},
    }

    def record(name: str, seconds: float, points: torch.Tensor, valid: torch.Tensor) -> None:
        error = (points.double() - truth).norm(dim=-1)[valid]
        figures["methods"][name] = {
            "seconds": round(seconds, 4), "joints_per_s": round(joints / seconds),
            "mean_error_mm": round(error.mean().item(), 4), "median_error_mm": round(error.median().item(), 4),
            "valid": int(valid.sum()),
        }

    for dtype in (torch.float32, torch.float64):
        inputs = (keypoints.to(dtype), confidence.to(dtype), view_mask, cameras.to(dtype))
        name = str(dtype).removeprefix("torch.")
        seconds, _ = best_time(lambda: undistort(pixels_to_normalised(inputs[0], inputs[3].K), inputs[3].dist), args.repeats)
        figures["methods"][f"undistortion alone, {name}"] = {"seconds": round(seconds, 4)}
        seconds, result = best_time(lambda: triangulate_linear(*inputs), args.repeats)
        record(f"ours linear (a), {name}", seconds, result.points, result.valid)
        seconds, result = best_time(lambda: triangulate(*inputs), args.repeats)
        record(f"ours two-step (b), {name}", seconds, result.points, result.valid)

    anipose, reason = aniposelib_triangulator(cameras)
    if anipose is None:
        figures["aniposelib"] = reason
    else:
        points_2d = torch.where(confidence[..., None] > 0, keypoints, float("nan")).permute(1, 0, 2, 3).reshape(cameras.t.shape[0], -1, 2)
        seconds, points = best_time(lambda: anipose(points_2d.numpy()), args.repeats)
        points = torch.from_numpy(np.asarray(points)).reshape(truth.shape)
        record("aniposelib 0.8 DLT (c), float64", seconds, points, torch.isfinite(points).all(-1))
    return figures


def print_table(figures: dict) -> None:
    """The figures as a plain-text table."""
    print(f"{figures['rig']}: {figures['views']} views, {figures['joints']} joints "
          f"(seen by {figures['mean_views_per_joint']} views on average), {figures['noise_px']} px noise, "
          f"torch threads {figures['torch_threads']}")
    print(f"{'method':38s} {'seconds':>9s} {'joints/s':>10s} {'mean mm':>9s} {'median mm':>10s}")
    for name, row in figures["methods"].items():
        if "joints_per_s" in row:
            print(f"{name:38s} {row['seconds']:9.4f} {row['joints_per_s']:10d} {row['mean_error_mm']:9.4f} {row['median_error_mm']:10.4f}")
        else:
            print(f"{name:38s} {row['seconds']:9.4f}")
    if "aniposelib" in figures:
        print(figures["aniposelib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joints", type=int, default=20_000)
    parser.add_argument("--noise-px", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
