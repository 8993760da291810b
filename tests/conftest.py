"""Shared fixtures: the real Panoptic HD rig (or a synthetic stand-in), random cameras, real joints, dtypes."""

from pathlib import Path

import pytest
import torch

from weakpose_lite.cameras import Camera
from weakpose_lite.data.formats.panoptic import read_bodies, read_calibration
from weakpose_lite.skeleton import PANOPTIC_COCO19

# The real samples are read where they are staged, never copied into the repository: CI clones it and puts shared/
# beside it (<repo>/../shared). Every test finds them through these names; absent, their tests skip or use a stand-in.
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
PANOPTIC = REAL_DATA / "panoptic_mmpose"
PANOPTIC_CALIBRATION = PANOPTIC / "160906_band1" / "calibration_160906_band1.json"
PANOPTIC_SECOND_RIG = PANOPTIC / "calib_160422_hd31" / "camera_parameters.json"
PANOPTIC_BODIES = PANOPTIC / "160906_band1" / "hdPose3d_stage1_coco19"
HD_RESOLUTION = (1920, 1080)


def random_rotation(batch_shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Uniformly spread rotations (*batch_shape, 3, 3) from the exponential of random skew matrices."""
    angle_axis = torch.randn(*batch_shape, 3, generator=generator, dtype=torch.float64)
    x, y, z = angle_axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*batch_shape, 3, 3)
    return torch.linalg.matrix_exp(skew)


def random_camera(batch_shape: tuple[int, ...] = (), seed: int = 0) -> Camera:
    """float64 cameras with Panoptic-like intrinsics and lenses, each seeing the world origin about 3 m ahead."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*batch_shape, *shape, generator=generator, dtype=torch.float64)

    K = torch.zeros(*batch_shape, 3, 3, dtype=torch.float64)
    K[..., 0, 0], K[..., 1, 1] = uniform(1390, 1870), uniform(1390, 1870)
    K[..., 0, 2], K[..., 1, 2], K[..., 2, 2] = uniform(930, 990), uniform(520, 560), 1.0
    t = torch.cat([uniform(-200, 200, 2), uniform(2500, 3500, 1)], -1)
    # Ranges of the 31 real HD lenses (k1, k2, p1, p2, k3).
    low = torch.tensor([-0.29, 0.17, -1e-3, -1e-3, -0.06], dtype=torch.float64)
    high = torch.tensor([-0.17, 0.23, 1e-3, 1e-3, 0.21], dtype=torch.float64)
    dist = low + (high - low) * torch.rand(*batch_shape, 5, generator=generator, dtype=torch.float64)
    return Camera(K, random_rotation(batch_shape, generator), t, dist)


@pytest.fixture(scope="session")
def hd_cameras() -> Camera:
    """The 31 real Panoptic HD cameras (C=31) in mm, float64; a synthetic rig of the same kind when absent."""
    if PANOPTIC_CALIBRATION.exists():
        return read_calibration(PANOPTIC_CALIBRATION, dtype=torch.float64).cameras
    return random_camera((31,), seed=31)


@pytest.fixture(scope="session")
def all_hd_cameras(hd_cameras) -> Camera:
    """Both real HD rigs (two capture days, C=62) when present, else the one of ``hd_cameras``."""
    if not PANOPTIC_SECOND_RIG.exists():
        return hd_cameras
    second = read_calibration(PANOPTIC_SECOND_RIG, dtype=torch.float64).cameras
    return Camera(*(torch.cat([getattr(hd_cameras, f), getattr(second, f)]) for f in ("K", "R", "t", "dist")))


@pytest.fixture(scope="session")
def world_joints() -> torch.Tensor:
    """Confident real Panoptic joints (N, 3) in world mm, float64; random points in the capture volume when absent."""
    if PANOPTIC_BODIES.exists():
        scenes = sorted(PANOPTIC_BODIES.glob("body3DScene_*.json"))[:5]
        bodies = [read_bodies(scene, PANOPTIC_COCO19, dtype=torch.float64) for scene in scenes]
        points = torch.cat([body.points.flatten(0, 1) for body in bodies])
        confidence = torch.cat([body.confidence.flatten() for body in bodies])
        return points[confidence > 0.1]
    generator = torch.Generator().manual_seed(0)
    low = torch.tensor([-1000.0, -1800.0, -1000.0], dtype=torch.float64)
    return low + torch.rand(200, 3, generator=generator, dtype=torch.float64) * torch.tensor([2000.0, 1800.0, 2000.0])


@pytest.fixture(scope="session")
def make_camera():
    """The ``random_camera(batch_shape, seed)`` factory."""
    return random_camera


@pytest.fixture
def generator() -> torch.Generator:
    """A freshly seeded random generator, so every test sees the same data on every run."""
    return torch.Generator().manual_seed(0)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    """Run a test once in float32 (the kit's default) and once in float64."""
    return request.param


@pytest.fixture
def float64_default():
    """Make float64 the default dtype for one test, then restore it so other tests are untouched."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
