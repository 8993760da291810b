"""Prints the speed and accuracy of ``cameras.undistort`` against OpenCV's ``undistortPoints`` on 100k points.

Usage: python benchmarks/undistort.py [--points 100000] [--repeats 5] [--threads N] [--json]
The lens is Panoptic HD camera 00_00 of the 160906 calibration; the points fill its 1920x1080 image.
"""

import argparse

import cv2
import numpy as np
import torch
from timing import best_time, report  # benchmarks/timing.py

from weakpose_lite.cameras import distort, normalised_to_pixels, pixels_to_normalised, undistort

# Panoptic 160906 calibration, HD camera 00_00 (calibration_160906_band1.json, cameras[479]).
K_00_00 = [[1634.03, 0.0, 942.792], [0.0, 1629.73, 558.29], [0.0, 0.0, 1.0]]
DIST_00_00 = [-0.222445, 0.199192, 8.73054e-05, 0.000982243, 0.0238445]
RESOLUTION = (1920, 1080)
TIGHT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-16)


def opencv_undistort(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray, criteria=None) -> np.ndarray:
    """Pixels (N, 2) -> undistorted normalised coordinates (N, 2); OpenCV's defaults (5 steps) without criteria."""
    src = pixels.reshape(-1, 1, 2)
    if criteria is None:
        return cv2.undistortPoints(src, K, dist)[:, 0]
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x
        return cv2.undistortPointsIter(src, K, dist, None, None, criteria)[:, 0]
    return cv2.undistortPoints(src, K, dist, criteria=criteria)[:, 0]


def run(args: argparse.Namespace) -> dict:
    """Time every method on the same points; the figures as a dict (points/s and worst error in pixels)."""
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(args.points, 2, generator=generator, dtype=torch.float64) * torch.tensor(RESOLUTION)
    K, dist = torch.tensor(K_00_00, dtype=torch.float64), torch.tensor(DIST_00_00, dtype=torch.float64)
    normalised = pixels_to_normalised(pixels, K)
    truth = undistort(normalised, dist, iterations=12)

    def pixel_error(estimate) -> float:
        return float((normalised_to_pixels(torch.as_tensor(estimate).double(), K) - normalised_to_pixels(truth, K))
                     .abs().max())  # fmt: skip

    figures = {
        "points": args.points, "threads": args.threads, "repeats": args.repeats,
        "reference_residual": float((distort(truth, dist) - normalised).abs().max()), "methods": {},
    }  # fmt: skip
    for dtype in (torch.float32, torch.float64):
        x, d = normalised.to(dtype), dist.to(dtype)
        for iterations in (3, 4, 5):
            seconds, _ = best_time(lambda: undistort(x, d, iterations=iterations), args.repeats)
            figures["methods"][f"weakpose undistort {str(dtype)[6:]}, {iterations} steps"] = {
                "points_per_s": args.points / seconds, "max_error_px": pixel_error(undistort(x, d, iterations)),
            }  # fmt: skip
    K_np, dist_np = K.numpy(), dist.numpy()
    for dtype in (np.float32, np.float64):
        p = pixels.numpy().astype(dtype)
        for label, criteria in (("default (5 steps)", None), ("100 steps or 1e-16", TIGHT)):
            seconds, _ = best_time(lambda: opencv_undistort(p, K_np, dist_np, criteria), args.repeats)
            figures["methods"][f"cv2.undistortPoints {dtype.__name__}, {label}"] = {
                "points_per_s": args.points / seconds,
                "max_error_px": pixel_error(opencv_undistort(p, K_np, dist_np, criteria)),
            }
    return figures


def print_table(figures: dict) -> None:
    """The figures as a plain-text table."""
    print(f"{figures['points']} points over the {RESOLUTION[0]}x{RESOLUTION[1]} image, {figures['threads']} thread(s), "
          f"best of {figures['repeats']}; residual of the reference: {figures['reference_residual']:.1e}")
    print(f"{'method':46s} {'points/s':>12s} {'max error px':>13s}")
    for name, row in figures["methods"].items():
        print(f"{name:46s} {row['points_per_s']:12.3g} {row['max_error_px']:13.1e}")


def main(argv: list[str] | None = None) -> dict:
    """Run the measurements and print them (a table, or one line of JSON with ``--json``); returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", action="store_true", help="print the figures as one line of JSON")
    args = parser.parse_args(argv)
    return report(run(args), args.json, print_table)


if __name__ == "__main__":
    main()
