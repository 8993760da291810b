"""Benchmark: speed (joints/s) and accuracy (mm) of triangulation over the 31 Panoptic HD views.

Random joints in a person-sized volume at the centre of the real HD dome (calibration_160906_band1.json, or a
synthetic dome of the same kind when that file is absent) are projected through the lenses, perturbed by Gaussian
pixel noise, dropped where they fall outside the 1920x1080 image, and triangulated by:
  (a) ``triangulate_linear`` (our closed-form DLT step), (b) ``triangulate`` (DLT + Levenberg-Marquardt, §3.4),
  (c) aniposelib 0.8's ``CameraGroup.triangulate`` (OpenCV undistortion + a jax SVD DLT per point), when installed.
Each is timed on the same detections, best of ``--repeats`` calls after a warm-up call (jax compiles on its first).
Torch runs single-threaded by default (``--threads``), so figures do not depend on what else the machine runs.

    .venv/bin/python benchmarks/triangulation.py [--joints 20000] [--noise-px 2] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from timing import best_time, report  # benchmarks/timing.py

from weakpose_lite.cameras import Camera, look_at_rotation, pixels_to_normalised, project, undistort
from weakpose_lite.data.formats.panoptic import read_calibration
from weakpose_lite.triangulation import triangulate, triangulate_linear

# ../shared beside the repository, where the real Panoptic samples are staged (absent: a synthetic dome is used)
CALIBRATION = (
    Path(__file__).resolve().parents[2] / "shared/data/real/panoptic_mmpose/160906_band1/calibration_160906_band1.json"
)
IMAGE_SIZE = (1920, 1080)
JOINTS_PER_FRAME = 20


def panoptic_cameras(path: Path) -> tuple[Camera, str]:
    """The 31 real HD cameras (C,) in mm, float64, or a synthetic dome like them when the file is absent."""
    if path.exists():
        return read_calibration(path, "hd", torch.float64).cameras, f"real HD rig ({path.name})"
    views = 31
    angle = torch.arange(views, dtype=torch.float64) * (2 * math.pi / views)
    height = torch.linspace(-3400, -740, views, dtype=torch.float64)
    center = torch.stack([2450 * torch.cos(angle), height, 2450 * torch.sin(angle)], dim=-1)
    target, up = torch.tensor([0.0, -1000.0, 0.0], dtype=torch.float64), torch.tensor([0.0, -1.0, 0.0]).double()
    R = look_at_rotation(center, target, up)
    K = torch.tensor([[1600.0, 0.0, 950.0], [0.0, 1600.0, 560.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    dist = torch.tensor([-0.23, 0.2, 0.0, 0.0, 0.02], dtype=torch.float64)
    cameras = Camera(K.repeat(views, 1, 1), R, -(R @ center.unsqueeze(-1)).squeeze(-1), dist.repeat(views, 1))
    return cameras, "synthetic 31-camera dome (real calibration file absent)"


def make_detections(cameras: Camera, joints: int, noise_px: float, seed: int):
    """Truth (F, J, 3) mm; noisy detections (F, C, J, 2) px, 0 outside the image; confidence (F, C, J); mask (F, C)."""
    generator = torch.Generator().manual_seed(seed)
    frames = math.ceil(joints / JOINTS_PER_FRAME)
    unit = torch.rand(frames, JOINTS_PER_FRAME, 3, generator=generator, dtype=torch.float64)
    truth = torch.tensor([-500.0, -1800.0, -500.0]) + unit * torch.tensor([1000.0, 1750.0, 1000.0])
    clean = project(truth.unsqueeze(-3), cameras)
    noisy = clean + noise_px * torch.randn(clean.shape, generator=generator, dtype=torch.float64)
    inside = ((clean >= 0) & (clean <= torch.tensor(IMAGE_SIZE, dtype=torch.float64) - 1)).all(-1)
    view_mask = torch.ones(frames, cameras.t.shape[0], dtype=torch.bool)
    return truth, torch.where(inside[..., None], noisy, 0), inside.to(torch.float64), view_mask


def aniposelib_triangulator(cameras: Camera):
    """(function (C, N, 2) px, NaN where missing -> (N, 3) mm, None), or (None, why aniposelib is unavailable)."""
    try:
        import cv2
        from aniposelib.cameras import Camera as AniposeCamera
        from aniposelib.cameras import CameraGroup
    except ImportError as error:
        return None, f"aniposelib skipped: not importable ({error}); .venv/bin/pip install aniposelib==0.8.0"
    group = CameraGroup([
        AniposeCamera(matrix=K.numpy(), dist=dist.numpy(), rvec=cv2.Rodrigues(R.numpy())[0].ravel(), tvec=t.numpy())
        for K, R, t, dist in zip(cameras.K, cameras.R, cameras.t, cameras.dist)
    ])  # fmt: skip
    return (lambda points: group.triangulate(points, undistort=True)), None


def run(args: argparse.Namespace) -> dict:
    """Time every method on the same detections; the figures as a dict."""
    torch.set_num_threads(args.threads)
    cameras, rig = panoptic_cameras(args.calibration)
    truth, keypoints, confidence, view_mask = make_detections(cameras, args.joints, args.noise_px, args.seed)
    joints = truth.shape[0] * truth.shape[1]
    figures = {
        "rig": rig,
        "views": cameras.t.shape[0],
        "joints": joints,
        "noise_px": args.noise_px,
        "mean_views_per_joint": round((confidence > 0).sum(-2).double().mean().item(), 2),
        "torch_threads": torch.get_num_threads(),
        "methods": {},
    }

    def record(name: str, seconds: float, points: torch.Tensor, valid: torch.Tensor) -> None:
        error = (points.double() - truth).norm(dim=-1)[valid]
        figures["methods"][name] = {
            "seconds": round(seconds, 4),
            "joints_per_s": round(joints / seconds),
            "mean_error_mm": round(error.mean().item(), 4),
            "median_error_mm": round(error.median().item(), 4),
            "valid": int(valid.sum()),
        }

    for dtype in (torch.float32, torch.float64):
        typed_cameras = cameras.to(dtype)
        inputs = (keypoints.to(dtype), confidence.to(dtype), view_mask, typed_cameras)
        name = str(dtype).removeprefix("torch.")
        normalised = pixels_to_normalised(inputs[0], typed_cameras.K)
        seconds, _ = best_time(lambda: undistort(normalised, typed_cameras.dist), args.repeats)
        figures["methods"][f"undistortion alone, {name}"] = {"seconds": round(seconds, 4)}
        seconds, result = best_time(lambda: triangulate_linear(*inputs), args.repeats)
        record(f"ours linear (a), {name}", seconds, result.points, result.valid)
        seconds, result = best_time(lambda: triangulate(*inputs), args.repeats)
        record(f"ours two-step (b), {name}", seconds, result.points, result.valid)

    anipose, reason = aniposelib_triangulator(cameras)
    if anipose is None:
        figures["aniposelib"] = reason
        return figures
    missing_as_nan = torch.where(confidence[..., None] > 0, keypoints, float("nan"))
    points_2d = missing_as_nan.permute(1, 0, 2, 3).reshape(cameras.t.shape[0], -1, 2).numpy()  # (C, F*J, 2)
    seconds, points = best_time(lambda: anipose(points_2d), args.repeats)
    points = torch.from_numpy(np.asarray(points)).reshape(truth.shape)
    record("aniposelib 0.8 DLT (c), float64", seconds, points, torch.isfinite(points).all(-1))
    return figures


def print_table(figures: dict) -> None:
    """The figures as a plain-text table."""
    print(
        f"{figures['rig']}: {figures['views']} views, {figures['joints']} joints (seen by "
        f"{figures['mean_views_per_joint']} views on average), {figures['noise_px']} px noise, "
        f"torch threads {figures['torch_threads']}"
    )
    print(f"{'method':36s} {'seconds':>8s} {'joints/s':>9s} {'mean mm':>8s} {'median mm':>9s}")
    for name, row in figures["methods"].items():
        line = f"{name:36s} {row['seconds']:8.3f}"
        if "joints_per_s" in row:
            line += f" {row['joints_per_s']:9d} {row['mean_error_mm']:8.3f} {row['median_error_mm']:9.3f}"
        print(line)
    if "aniposelib" in figures:
        print(figures["aniposelib"])


def main(argv: list[str] | None = None) -> dict:
    """Run the measurements and print them (a table, or one line of JSON with ``--json``); returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joints", type=int, default=20_000)
    parser.add_argument("--noise-px", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args(argv)
    return report(run(args), args.json, print_table)


if __name__ == "__main__":
    main()
