"""Tests of weakpose_lite.cameras against autograd, OpenCV, plain matrix products and known geometry."""

import inspect

import cv2
import numpy as np
import pytest
import torch
from conftest import HD_RESOLUTION, PANOPTIC_CALIBRATION
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd.functional import jacobian

from weakpose_lite import cameras as cameras_module
from weakpose_lite.cameras import (
    Camera,
    camera_to_world,
    distort,
    lens_inversion_error_px,
    look_at_rotation,
    normalised_to_pixels,
    orthographic_projection,
    perspective_jacobian,
    perspective_projection,
    pixels_to_normalised,
    project,
    project_camera_points,
    rotate_to_camera,
    rotate_to_world,
    scaled_orthographic_projection,
    stack_cameras,
    undistort,
    world_to_camera,
)

PANOPTIC_UP = torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)  # Panoptic's world y points down
FEW_EXAMPLES = settings(max_examples=40, deadline=None)
coordinate = st.floats(-2000, 2000)
depth = st.floats(300, 8000)
angle_axis = st.tuples(*[st.floats(-3, 3)] * 3)


# ---- independent references -------------------------------------------------------------------------------------


def cv2_project(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    """World points (N, 3) seen by one camera -> OpenCV's distorted pixels (N, 2)."""
    rvec, _ = cv2.Rodrigues(camera.R.numpy())
    pixels, _ = cv2.projectPoints(
        points.reshape(-1, 1, 3).numpy(), rvec, camera.t.numpy(), camera.K.numpy(), camera.dist.numpy()
    )
    return torch.from_numpy(pixels[:, 0])


def through_rodrigues(camera: Camera) -> Camera:
    """The camera with R replaced by OpenCV's rotation for it (Panoptic's R is orthonormal to 5e-11 only, 1e-8 px)."""
    R = torch.stack([rodrigues(cv2.Rodrigues(R.numpy())[0][:, 0]) for R in camera.R.reshape(-1, 3, 3)])
    return Camera(camera.K, R.reshape(camera.R.shape), camera.t, camera.dist)


def cv2_undistort(pixels: torch.Tensor, K: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Distorted pixels (N, 2) -> OpenCV's undistorted normalised coordinates (N, 2), iterated to convergence.

    OpenCV's default stops after 5 fixed-point steps (0.03 px off in the corners), so ask for 100 or 1e-16.
    """
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-16)
    src = pixels.reshape(-1, 1, 2).numpy()
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x
        out = cv2.undistortPointsIter(src, K.numpy(), dist.numpy(), None, None, criteria)
    else:  # OpenCV 5 folded the criteria into undistortPoints
        out = cv2.undistortPoints(src, K.numpy(), dist.numpy(), criteria=criteria)
    return torch.from_numpy(out[:, 0])


def rodrigues(rotation_vector) -> torch.Tensor:
    """Rotation vector (3,) -> R (3, 3) through OpenCV."""
    return torch.from_numpy(cv2.Rodrigues(np.asarray(rotation_vector, dtype=np.float64))[0])


def image_grid(step: int = 40) -> torch.Tensor:
    """Pixels (N, 2) covering the whole HD image, corners included, float64."""
    width, height = HD_RESOLUTION
    xs = torch.linspace(0, width - 1, (width - 1) // step + 1, dtype=torch.float64)
    ys = torch.linspace(0, height - 1, (height - 1) // step + 1, dtype=torch.float64)
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)


def in_front(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    """The world points (N, 3) at least 10 cm in front of one camera."""
    return points[camera.world_to_camera(points)[:, 2] > 100]


# ---- Jacobians (Eq. 13) -----------------------------------------------------------------------------------------


@FEW_EXAMPLES
@given(coordinate, coordinate, depth)
def test_perspective_jacobian_matches_autograd(x, y, z):
    point = torch.tensor([x, y, z], dtype=torch.float64)
    expected = jacobian(perspective_projection, point)
    torch.testing.assert_close(perspective_jacobian(point), expected, rtol=1e-12, atol=1e-15)


@FEW_EXAMPLES
@given(
    st.floats(-0.9, 0.9),
    st.floats(-0.9, 0.9),
    st.tuples(st.floats(-0.4, 0.1), st.floats(-0.1, 0.3), st.floats(-0.01, 0.01), st.floats(-0.01, 0.01),
              st.floats(-0.1, 0.3)),
)  # fmt: skip
def test_the_lens_jacobian_of_undistorts_newton_steps_matches_autograd(u, v, coefficients):
    point = torch.tensor([[u, v]], dtype=torch.float64)  # (J=1, 2)
    dist = torch.tensor(coefficients, dtype=torch.float64)
    _, _, a, b, d = cameras_module._distortion_terms(*point.unbind(-1), dist)  # [[a, b], [b, d]], closed form
    closed_form = torch.stack([torch.stack([a, b], -1), torch.stack([b, d], -1)], -2)[0]
    torch.testing.assert_close(closed_form, _lens_jacobian(point, dist)[0], rtol=1e-12, atol=1e-14)


def _lens_jacobian(points: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """The Jacobian of ``distort`` at undistorted points (..., J, 2) by autograd -> (..., J, 2, 2), row k = ∂out_k."""
    points = points.detach().requires_grad_(True)
    distorted = distort(points, dist)
    rows = [torch.autograd.grad(distorted[..., k].sum(), points, retain_graph=True)[0] for k in range(2)]
    return torch.stack(rows, -2)


def _undistort_pixels(pixels: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Detected pixels (..., J, 2) -> an ideal pinhole's pixels (..., J, 2), as ``views.make_views`` composes them."""
    return normalised_to_pixels(undistort(pixels_to_normalised(pixels, camera.K), camera.dist), camera.K)


def test_the_perspective_jacobian_broadcasts_over_leading_dimensions(generator):
    points = torch.randn(2, 3, 5, 3, generator=generator, dtype=torch.float64) + torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)
    assert perspective_jacobian(points).shape == (2, 3, 5, 2, 3)
    torch.testing.assert_close(perspective_jacobian(points)[1, 2, 4], jacobian(perspective_projection, points[1, 2, 4]))


# ---- lens distortion against OpenCV -----------------------------------------------------------------------------


def test_distort_matches_cv2_project_points_over_the_image(all_hd_cameras):
    cameras = all_hd_cameras
    normalised = pixels_to_normalised(image_grid().expand(len(cameras.t), -1, -1), cameras.K)  # (C, N, 2) ideal
    ours = distort(normalised, cameras.dist)
    for c in range(len(cameras.t)):
        # Unit-depth points through an identity camera: OpenCV returns the distorted normalised coordinates.
        homogeneous = torch.cat([normalised[c], torch.ones_like(normalised[c, :, :1])], -1)
        identity = Camera(torch.eye(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64),
                          torch.zeros(3, dtype=torch.float64), cameras.dist[c])  # fmt: skip
        torch.testing.assert_close(ours[c], cv2_project(homogeneous, identity), rtol=0, atol=1e-13)


def test_project_matches_cv2_project_points(hd_cameras, world_joints):
    cameras = through_rodrigues(hd_cameras)
    for c in range(len(cameras.t)):
        camera = cameras[c]
        points = in_front(world_joints, camera)
        torch.testing.assert_close(project(points, camera), cv2_project(points, camera), rtol=0, atol=1e-9)


def test_project_without_distortion_matches_cv2_with_zero_coefficients(hd_cameras, world_joints):
    camera = through_rodrigues(hd_cameras[7])
    pinhole = Camera(camera.K, camera.R, camera.t, torch.zeros_like(camera.dist))
    points = in_front(world_joints, camera)
    expected = cv2_project(points, pinhole)
    torch.testing.assert_close(project(points, camera, with_distortion=False), expected, rtol=0, atol=1e-8)


def test_distortion_moves_real_joints_by_many_pixels(hd_cameras, world_joints):
    """The lens cannot be ignored: PANOPTIC_FORMATS.md measured up to 85 px on real joints."""
    camera = hd_cameras[0]
    points = in_front(world_joints, camera)
    shift = (project(points, camera) - project(points, camera, with_distortion=False)).norm(dim=-1)
    assert shift.max() > 5


def test_undistort_matches_cv2_undistort_points(all_hd_cameras):
    pixels = image_grid()
    for c in range(len(all_hd_cameras.t)):
        K, dist = all_hd_cameras.K[c], all_hd_cameras.dist[c]
        ours = undistort(pixels_to_normalised(pixels, K), dist)
        torch.testing.assert_close(ours, cv2_undistort(pixels, K, dist), rtol=0, atol=1e-12)


def test_undistort_in_blocks_equals_one_batch_and_broadcasts_the_same(hd_cameras, monkeypatch):
    dist = hd_cameras.dist[:3]  # (3, 5)
    distorted = (torch.rand(7, 1, 5, 2, generator=torch.Generator().manual_seed(0), dtype=dist.dtype) - 0.5)
    distorted.requires_grad_(True)
    one_batch = undistort(distorted, dist)  # (7, 3, 5, 2): the detections broadcast against the three lenses
    (gradient_one_batch,) = torch.autograd.grad(one_batch.square().sum(), distorted)
    monkeypatch.setattr(cameras_module, "POINTS_PER_BLOCK", 10)  # blocks of 2 rows of 5 joints
    blocks = undistort(distorted, dist)
    (gradient_blocks,) = torch.autograd.grad(blocks.square().sum(), distorted)
    assert blocks.shape == one_batch.shape == (7, 3, 5, 2)
    torch.testing.assert_close(blocks, one_batch, rtol=0, atol=1e-15)
    torch.testing.assert_close(gradient_blocks, gradient_one_batch, rtol=0, atol=1e-12)


def test_undistort_round_trips_distort_over_the_whole_image(all_hd_cameras):
    K, dist = all_hd_cameras.K, all_hd_cameras.dist  # (C, 3, 3), (C, 5)
    ideal = image_grid().expand(len(dist), -1, -1)  # (C, N, 2) the pinhole image
    recovered = normalised_to_pixels(undistort(distort(pixels_to_normalised(ideal, K), dist), dist), K)
    assert (recovered - ideal).abs().max() < 1e-9
    detected = ideal  # the same grid read as the distorted image, the one detections live in
    redistorted = normalised_to_pixels(distort(undistort(pixels_to_normalised(detected, K), dist), dist), K)
    assert (redistorted - detected).abs().max() < 1e-9


def test_undistort_newton_converges_quadratically_within_the_default_steps(all_hd_cameras):
    """Measured on the 62 real HD cameras: 3.8 px, 3e-3 px, 2e-9 px, 1e-12 px after 1-4 steps (see undistort)."""
    K, dist = all_hd_cameras.K, all_hd_cameras.dist
    distorted = pixels_to_normalised(image_grid().expand(len(dist), -1, -1), K)
    solution = undistort(distorted, dist, iterations=12)
    assert (distort(solution, dist) - distorted).abs().max() < 1e-15
    default = inspect.signature(undistort).parameters["iterations"].default

    def after_steps(k: int) -> torch.Tensor:  # the raw iterate: undistort itself is NaN until it has converged
        u, v, _ = cameras_module._newton_steps(*distorted.unbind(-1), dist, k)
        return torch.stack([u, v], -1)

    errors = [(after_steps(k) - solution).norm(dim=-1) for k in range(default + 1)]
    for before, after in zip(errors, errors[1:]):
        above_round_off = before > 1e-7
        # Quadratic: the error squares each step (constant ≤ 0.6 on the real lenses; linear would fail this).
        assert (after[above_round_off] <= 10 * before[above_round_off] ** 2).all()
    focal = K[:, None, 0, 0]
    pixel_error = [(error * focal).max().item() for error in errors]
    assert pixel_error[default - 1] < 1e-9, f"one spare step expected, worst pixel error per step {pixel_error}"
    assert pixel_error[1] > 1e-3 and torch.isnan(undistort(distorted, dist, iterations=1)).any()  # not yet: NaN
    torch.testing.assert_close(undistort(distorted, dist), after_steps(default), rtol=0, atol=0)


def test_undistort_gradient_is_the_inverse_distortion_jacobian(hd_cameras):
    dist = hd_cameras.dist[3]
    distorted = torch.tensor([[0.4, -0.25]], dtype=torch.float64)  # (J=1, 2)
    solution = undistort(distorted, dist)
    through_newton = jacobian(lambda p: undistort(p, dist), distorted)[0, :, 0]
    torch.testing.assert_close(through_newton, torch.linalg.inv(_lens_jacobian(solution, dist)[0]))


def test_undistorted_pixels_match_cv2_over_frames_and_views(hd_cameras, generator):
    cameras = hd_cameras[:3]
    pixels = torch.rand(2, 3, 7, 2, generator=generator, dtype=torch.float64) * torch.tensor(HD_RESOLUTION, dtype=torch.float64)
    ours = _undistort_pixels(pixels, cameras)  # (F, C, J, 2)
    assert ours.shape == (2, 3, 7, 2)
    for f in range(2):
        for c in range(3):
            expected = normalised_to_pixels(cv2_undistort(pixels[f, c], cameras.K[c], cameras.dist[c]), cameras.K[c])
            torch.testing.assert_close(ours[f, c], expected, rtol=0, atol=1e-9)


def test_float32_undistort_is_within_a_thousandth_of_a_pixel(hd_cameras):
    pixels = image_grid(step=60)
    reference = _undistort_pixels(pixels, hd_cameras[0])
    single = _undistort_pixels(pixels.float(), hd_cameras[0].to(torch.float32))
    assert single.dtype == torch.float32
    assert (single.double() - reference).abs().max() < 1e-3


# ---- world <-> camera ---------------------------------------------------------------------------------------------


@FEW_EXAMPLES
@given(angle_axis, st.tuples(*[coordinate] * 3), st.tuples(*[coordinate] * 3))
def test_world_to_camera_matches_matrix_product_and_camera_to_world_inverts_it(rotation, translation, point):
    R, t = rodrigues(rotation), torch.tensor(translation, dtype=torch.float64)
    X = torch.tensor([point], dtype=torch.float64)  # (J=1, 3)
    x = world_to_camera(X, R, t)
    expected = torch.from_numpy(R.numpy() @ np.asarray(point) + np.asarray(translation))
    torch.testing.assert_close(x[0], expected, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(camera_to_world(x, R, t), X, rtol=1e-12, atol=1e-9)


def test_camera_methods_match_the_functions_and_invert_each_other(make_camera, generator):
    camera = make_camera((4,), seed=1)
    points = 1000 * torch.randn(4, 6, 3, generator=generator, dtype=torch.float64)
    x = camera.world_to_camera(points)
    torch.testing.assert_close(x, world_to_camera(points, camera.R, camera.t))
    torch.testing.assert_close(camera.camera_to_world(x), points)


def test_camera_center_maps_to_the_origin(hd_cameras):
    cameras = through_rodrigues(hd_cameras)  # −Rᵀt is the centre only if Rᵀ = R⁻¹
    center = cameras.center  # (C, 3)
    assert center.shape == (31, 3)
    origin = cameras.world_to_camera(center[:, None])  # (C, 1, 3)
    torch.testing.assert_close(origin, torch.zeros_like(origin), rtol=0, atol=1e-9)


def test_rotate_to_camera_moves_differences_of_points_and_rotate_to_world_inverts_it(make_camera, generator):
    camera = make_camera((3,), seed=2)
    a, b = 1000 * torch.randn(2, 3, 5, 3, generator=generator, dtype=torch.float64)
    relative = a - b
    in_camera = rotate_to_camera(relative, camera.R)
    torch.testing.assert_close(in_camera, camera.world_to_camera(a) - camera.world_to_camera(b))
    torch.testing.assert_close(rotate_to_world(in_camera, camera.R), relative)


# ---- projection: known geometry ---------------------------------------------------------------------------------


def test_point_on_the_optical_axis_projects_to_the_principal_point(hd_cameras):
    cameras = through_rodrigues(hd_cameras)
    for distance in (500.0, 3000.0):
        on_axis = cameras.center + distance * cameras.R[:, 2]  # (C, 3): the camera's +z in the world
        pixels = project(on_axis[:, None], cameras)[:, 0]  # through the lens: distortion is zero on the axis
        torch.testing.assert_close(pixels, cameras.K[:, :2, 2], rtol=0, atol=1e-9)


@FEW_EXAMPLES
@given(st.floats(-3000, 3000), depth, st.floats(500, 3000), st.floats(0, 1920), st.floats(0, 1080))
def test_point_in_the_xz_plane_projects_to_cx_plus_fx_x_over_z(x, z, focal, cx, cy):
    K = torch.tensor([[focal, 0, cx], [0, 1.1 * focal, cy], [0, 0, 1]], dtype=torch.float64)
    camera = Camera(K, torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
                    torch.zeros(5, dtype=torch.float64))  # fmt: skip
    pixel = project(torch.tensor([[x, 0.0, z]], dtype=torch.float64), camera)[0]
    torch.testing.assert_close(pixel, torch.tensor([cx + focal * x / z, cy], dtype=torch.float64))


# ---- scaled orthographic projection (Eq. 14 in its depth-free form) ---------------------------------------------


def test_scaled_orthographic_equals_perspective_at_the_reference_depth(generator):
    points = torch.randn(3, 5, 3, generator=generator, dtype=torch.float64) * 500
    reference = torch.tensor([2000.0, 3500.0, 6000.0], dtype=torch.float64)
    points[..., 2] = reference[:, None]
    torch.testing.assert_close(scaled_orthographic_projection(points, reference), perspective_projection(points))


def test_scaled_orthographic_jacobian_is_the_constant_one_over_depth_i_zero():
    reference = torch.tensor(2500.0, dtype=torch.float64)
    expected = torch.eye(2, 3, dtype=torch.float64) / reference
    for point in ([0.0, 0.0, 2500.0], [-800.0, 300.0, 1200.0], [900.0, -1500.0, 7000.0]):
        point = torch.tensor([point], dtype=torch.float64)
        gradient = jacobian(lambda p: scaled_orthographic_projection(p, reference), point)  # (1, 2, 1, 3)
        torch.testing.assert_close(gradient[0, :, 0], expected, rtol=1e-15, atol=0)


def test_literal_orthographic_pixels_are_off_by_the_depth(hd_cameras):
    """K·Π_o(X) read literally puts mm where normalised coordinates belong: Z times too far from the centre."""
    K = hd_cameras.K[0]
    points = torch.tensor([[300.0, -200.0, 3000.0], [-100.0, 400.0, 2000.0]], dtype=torch.float64)
    principal = K[:2, 2]
    literal = normalised_to_pixels(orthographic_projection(points), K) - principal
    perspective = normalised_to_pixels(perspective_projection(points), K) - principal
    torch.testing.assert_close(literal, points[:, 2:] * perspective)
    assert literal.abs().max() > 1e5  # hundreds of thousands of pixels off a 1920-pixel-wide image


def test_project_scaled_orthographic_defaults_to_the_mean_depth(hd_cameras, world_joints):
    camera = hd_cameras[5]
    points = in_front(world_joints, camera)[:12]
    x = camera.world_to_camera(points).numpy()
    mean_depth = x[:, 2].mean()
    fx, fy, cx, cy = camera.K[0, 0].item(), camera.K[1, 1].item(), camera.K[0, 2].item(), camera.K[1, 2].item()
    expected = [[cx + fx * px / mean_depth, cy + fy * py / mean_depth] for px, py, _ in x]
    ours = project(points, camera, projection="scaled_orthographic", with_distortion=False)
    torch.testing.assert_close(ours, torch.tensor(expected, dtype=torch.float64))


def test_project_camera_points_rejects_an_unknown_projection():
    with pytest.raises(ValueError, match="perspective.*scaled_orthographic.*'orthographic'"):
        project_camera_points(torch.ones(2, 3), torch.eye(3), projection="orthographic")


# ---- pixels <-> normalised --------------------------------------------------------------------------------------


@FEW_EXAMPLES
@given(st.floats(300, 3000), st.floats(300, 3000), st.floats(-50, 50), st.floats(0, 1920), st.floats(0, 1080),
       st.floats(-1, 1), st.floats(-1, 1))  # fmt: skip
def test_normalised_to_pixels_is_k_times_homogeneous_and_pixels_to_normalised_inverts_it(fx, fy, skew, cx, cy, u, v):
    K = torch.tensor([[fx, skew, cx], [0, fy, cy], [0, 0, 1]], dtype=torch.float64)
    normalised = torch.tensor([[u, v]], dtype=torch.float64)
    pixels = normalised_to_pixels(normalised, K)
    torch.testing.assert_close(pixels[0], torch.from_numpy(K.numpy() @ np.array([u, v, 1.0]))[:2])
    torch.testing.assert_close(pixels_to_normalised(pixels, K), normalised, rtol=1e-12, atol=1e-12)


# ---- look_at_rotation -------------------------------------------------------------------------------------------


def test_look_at_rotation_is_orthonormal_with_determinant_one(generator):
    center = 3000 * torch.randn(20, 3, generator=generator, dtype=torch.float64)
    target = 500 * torch.randn(20, 3, generator=generator, dtype=torch.float64)
    R = look_at_rotation(center, target, PANOPTIC_UP)
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(20, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(20, dtype=torch.float64))


def test_look_at_camera_sees_the_target_at_the_principal_point_and_up_as_image_up(hd_cameras, generator):
    target = 500 * torch.randn(20, 3, generator=generator, dtype=torch.float64)
    azimuth, elevation = torch.rand(2, 20, generator=generator, dtype=torch.float64) * torch.tensor([[6.28], [2.0]])
    elevation = elevation - 1.0  # within ±57° of the horizon, where "up" fixes the roll well
    direction = torch.stack([elevation.cos() * azimuth.cos(), elevation.sin(), elevation.cos() * azimuth.sin()], -1)
    center = target + 3000 * direction
    R = look_at_rotation(center, target, PANOPTIC_UP)
    K = hd_cameras.K[:20]
    camera = Camera(K, R, -(R @ center[:, :, None])[..., 0], hd_cameras.dist[:20])
    principal = K[:, :2, 2]
    torch.testing.assert_close(project(target[:, None], camera)[:, 0], principal, rtol=0, atol=1e-9)
    above = target + 300 * PANOPTIC_UP  # 30 cm above the target in the world
    # Without the lens: tangential distortion would move a point straight above the centre sideways.
    pixel_above = project(above[:, None], camera, with_distortion=False)[:, 0]
    torch.testing.assert_close(pixel_above[:, 0], principal[:, 0], rtol=0, atol=1e-9)  # same column
    assert (pixel_above[:, 1] < principal[:, 1] - 10).all()  # image up is negative v


@pytest.mark.skipif(not PANOPTIC_CALIBRATION.exists(), reason="needs the real Panoptic calibration")
def test_look_at_rotation_reproduces_the_real_panoptic_cameras_up_to_a_small_roll(hd_cameras):
    along_axis = hd_cameras.center + 1000 * hd_cameras.R[:, 2]
    R = look_at_rotation(hd_cameras.center, along_axis, PANOPTIC_UP)
    torch.testing.assert_close(R[:, 2], hd_cameras.R[:, 2])
    roll = torch.rad2deg(torch.arccos((R[:, 0] * hd_cameras.R[:, 0]).sum(-1).clamp(-1, 1)))
    assert roll.max() < 10, f"real HD cameras are mounted upright within 7.2 degrees, got {roll.max():.1f}"


def test_look_at_rotation_rejects_looking_along_up():
    center = torch.tensor([0.0, -3000.0, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="parallel to up"):
        look_at_rotation(center, torch.zeros(3, dtype=torch.float64), PANOPTIC_UP)


# ---- batches, dtypes and the Camera type ------------------------------------------------------------------------


def test_project_broadcasts_over_frames_views_and_joints(hd_cameras, world_joints):
    frames, views, joints = 2, 3, 4
    rig = through_rodrigues(hd_cameras)
    cameras = stack_cameras([rig[[0, 10, 20]], rig[[5, 15, 25]]])  # (F, C)
    points = world_joints[: frames * joints].reshape(frames, 1, joints, 3)  # one pose per frame, seen by C views
    pixels = project(points, cameras)
    assert pixels.shape == (frames, views, joints, 2)
    for f in range(frames):
        for c in range(views):
            torch.testing.assert_close(pixels[f, c], cv2_project(points[f, 0], cameras[f, c]), rtol=0, atol=1e-8)


def test_project_keeps_the_dtype_and_float32_stays_close_to_opencv(hd_cameras, world_joints, dtype):
    rig = through_rodrigues(hd_cameras[[2, 9]])  # (C=2,)
    points = world_joints[:10]
    pixels = project(points.to(dtype), rig.to(dtype))  # (C, J, 2)
    assert pixels.dtype == dtype
    tolerance = 1e-2 if dtype == torch.float32 else 1e-9
    for c in range(2):
        torch.testing.assert_close(pixels[c].double(), cv2_project(points, rig[c]), rtol=0, atol=tolerance)


def test_camera_getitem_indexes_every_parameter_like_a_tensor(hd_cameras):
    grid = stack_cameras([hd_cameras[:3], hd_cameras[3:6]])  # (2, 3)
    assert grid.batch_shape == (2, 3)
    assert grid[:, 1].batch_shape == (2,)
    one = grid[1, 2]
    assert one.batch_shape == ()
    for name in ("K", "R", "t", "dist"):
        torch.testing.assert_close(getattr(one, name), getattr(hd_cameras, name)[5], rtol=0, atol=0)
        torch.testing.assert_close(getattr(grid[:, 0], name), getattr(hd_cameras, name)[[0, 3]], rtol=0, atol=0)


def test_stack_cameras_puts_the_new_dimension_where_asked(hd_cameras):
    stacked = stack_cameras([hd_cameras[:3], hd_cameras[3:6]], dim=1)  # (3, 2)
    assert stacked.batch_shape == (3, 2)
    assert stacked.K.shape == (3, 2, 3, 3) and stacked.dist.shape == (3, 2, 5)
    torch.testing.assert_close(stacked.R[2, 1], hd_cameras.R[5], rtol=0, atol=0)


def test_camera_to_casts_every_parameter(hd_cameras):
    single = hd_cameras.to(torch.float32)
    for name in ("K", "R", "t", "dist"):
        assert getattr(single, name).dtype == torch.float32
        torch.testing.assert_close(getattr(single, name).double(), getattr(hd_cameras, name), rtol=1e-6, atol=1e-9)


def test_camera_center_is_minus_r_transpose_t(hd_cameras):
    expected = [-(R.T @ t) for R, t in zip(hd_cameras.R.numpy(), hd_cameras.t.numpy())]
    torch.testing.assert_close(hd_cameras.center, torch.from_numpy(np.stack(expected)))


def test_indexing_a_camera_indexes_only_its_batch_dimensions(hd_cameras):
    grid = Camera(*(p.expand(2, *p.shape) for p in (hd_cameras.K, hd_cameras.R, hd_cameras.t, hd_cameras.dist)))
    t, K = grid.t, grid.K  # (2, C, 3), (2, C, 3, 3)
    cases = [  # index, the t and K it must select
        ((..., 1), t[:, 1], K[:, 1]),
        ((slice(None), 1), t[:, 1], K[:, 1]),
        (1, t[1], K[1]),
        ((0, slice(2, 4)), t[0, 2:4], K[0, 2:4]),
        (torch.tensor([True, False]), t[:1], K[:1]),
    ]
    for index, expected_t, expected_K in cases:
        camera = grid[index]
        assert torch.equal(camera.t, expected_t) and torch.equal(camera.K, expected_K), index
        assert camera.R.shape == camera.K.shape and camera.dist.shape == (*camera.batch_shape, 5)


# ---- lenses that cannot be inverted, points behind the camera: NaN, never a wrong pixel -------------------------

PANOPTIC_LIKE_K = torch.tensor([[1634.03, 0.0, 942.792], [0.0, 1629.73, 558.29], [0.0, 0.0, 1.0]], dtype=torch.float64)
CORNER_PX = torch.tensor([[0.0, 0.0]], dtype=torch.float64)


def lens(k1: float = 0.0, k2: float = 0.0, p1: float = 0.0, p2: float = 0.0, k3: float = 0.0) -> torch.Tensor:
    return torch.tensor([k1, k2, p1, p2, k3], dtype=torch.float64)


def cv2_round_trip_px(pixels: torch.Tensor, K: torch.Tensor, dist: torch.Tensor, converged: bool = True):
    """OpenCV alone: its undistortion (iterated to convergence, or its default 5 steps) projected back: (N,) px."""
    if converged:
        undistorted = cv2_undistort(pixels, K, dist)
    else:
        src = pixels.reshape(-1, 1, 2).numpy()
        undistorted = torch.from_numpy(cv2.undistortPoints(src, K.numpy(), dist.numpy())[:, 0])
    rays = torch.cat([undistorted, torch.ones_like(undistorted[:, :1])], -1)
    identity = Camera(K, torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), dist)
    return (cv2_project(rays, identity) - pixels).norm(dim=-1)


STRONG = lens(k1=50.0)  # monotonic, but five steps (Newton's or OpenCV's default) do not reach the corner
FOLDING = {"k1=-0.5": lens(k1=-0.5), "k2=-0.5": lens(k1=-0.2, k2=-0.5)}  # fold inside the image: no inverse there


def test_undistort_returns_nan_in_the_corner_of_a_lens_too_strong_for_its_steps():
    distorted = pixels_to_normalised(CORNER_PX, PANOPTIC_LIKE_K)
    assert torch.isnan(undistort(distorted, STRONG)).all()
    assert torch.isfinite(undistort(distorted, STRONG, iterations=12)).all()  # more steps do get there
    # OpenCV's default (5 fixed-point steps) silently returns a point 1000 px from the detection
    assert cv2_round_trip_px(CORNER_PX, PANOPTIC_LIKE_K, STRONG, converged=False).item() > 100


@pytest.mark.parametrize("dist", FOLDING.values(), ids=FOLDING.keys())
def test_undistort_returns_nan_in_the_corner_of_a_lens_that_folds(dist):
    distorted = pixels_to_normalised(CORNER_PX, PANOPTIC_LIKE_K)
    assert torch.isnan(undistort(distorted, dist)).all()
    assert torch.isnan(undistort(distorted, dist, iterations=50)).all()  # no number of steps helps: no inverse
    # OpenCV, iterated to the end, silently returns a point hundreds of pixels from the detection
    assert cv2_round_trip_px(CORNER_PX, PANOPTIC_LIKE_K, dist).item() > 100


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_undistort_near_the_centre_of_a_strong_lens_still_converges_and_round_trips(dtype):
    dist = lens(k1=50.0).to(dtype)
    distorted = torch.tensor([[0.02, -0.01]], dtype=dtype)
    solution = undistort(distorted, dist)
    assert torch.isfinite(solution).all()
    torch.testing.assert_close(distort(solution, dist), distorted, rtol=0, atol=1e-6)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_undistort_of_a_non_finite_input_is_nan(value, hd_cameras):
    distorted = torch.tensor([[value, 0.1]], dtype=torch.float64)
    assert torch.isnan(undistort(distorted, hd_cameras.dist[0])).all()


def test_non_converged_points_are_nan_without_spoiling_the_others_or_their_gradient(hd_cameras):
    dist = torch.stack([hd_cameras.dist[0], STRONG])  # (2, 5): a real lens, then one too strong for five steps
    distorted = pixels_to_normalised(torch.tensor([[900.0, 500.0], [0.0, 0.0]], dtype=torch.float64), PANOPTIC_LIKE_K)
    distorted = distorted.expand(2, 2, 2).clone().requires_grad_(True)  # (views, J, 2)
    solution = undistort(distorted, dist)
    assert torch.isfinite(solution[0]).all() and torch.isnan(solution[1, 1]).all()
    assert torch.isfinite(solution[1, 0]).all()  # the same lens, nearer the centre: converged
    (gradient,) = torch.autograd.grad(torch.nan_to_num(solution).sum(), distorted)
    assert torch.isfinite(gradient).all() and (gradient[1, 1] == 0).all()
    inverse_jacobian = torch.linalg.inv(_lens_jacobian(solution[0].detach(), dist[0]))  # (J, 2, 2)
    torch.testing.assert_close(gradient[0], inverse_jacobian.sum(-2))  # d(sum of both coordinates) / d input


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_real_lenses_never_give_nan_over_the_whole_image(all_hd_cameras, dtype):
    cameras = all_hd_cameras.to(dtype)
    distorted = pixels_to_normalised(image_grid(step=20).to(dtype).expand(len(cameras.t), -1, -1), cameras.K)
    assert torch.isfinite(undistort(distorted, cameras.dist)).all()


def test_lens_inversion_error_of_the_real_lenses_is_round_off_and_agrees_with_opencv(all_hd_cameras):
    errors = lens_inversion_error_px(all_hd_cameras.K, all_hd_cameras.dist, HD_RESOLUTION)  # (C,)
    assert errors.shape == (len(all_hd_cameras.t),) and errors.max() < 1e-9
    assert cv2_round_trip_px(image_grid(step=120), all_hd_cameras.K[0], all_hd_cameras.dist[0]).max() < 1e-9


@pytest.mark.parametrize("dist", [STRONG, *FOLDING.values()], ids=["k1=50", *FOLDING.keys()])
def test_lens_inversion_error_is_infinite_for_a_lens_that_cannot_be_inverted_over_the_image(dist):
    assert lens_inversion_error_px(PANOPTIC_LIKE_K, dist, HD_RESOLUTION).item() == float("inf")
    # OpenCV's default is as wrong on these lenses, silently
    assert cv2_round_trip_px(image_grid(step=120), PANOPTIC_LIKE_K, dist, converged=False).max() > 100


def test_lens_inversion_error_looks_only_at_the_image_it_is_given():
    """k1 = -0.5 folds at radius 0.82: fine on a 640x480 crop at the centre, hopeless on the full HD image."""
    K = torch.tensor([[1634.03, 0.0, 320.0], [0.0, 1629.73, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert lens_inversion_error_px(K, lens(k1=-0.5), (640, 480)).item() < 1e-9
    assert lens_inversion_error_px(PANOPTIC_LIKE_K, lens(k1=-0.5), HD_RESOLUTION).item() == float("inf")


@pytest.mark.parametrize("depth", [-3000.0, -1e-3, 0.0], ids=["3 m behind", "just behind", "in the camera plane"])
@pytest.mark.parametrize("projection", ["perspective", "scaled_orthographic"])
def test_project_returns_nan_for_a_point_behind_the_camera_not_its_mirror(hd_cameras, depth, projection):
    camera = hd_cameras[4]
    behind = camera.camera_to_world(torch.tensor([[150.0, -80.0, depth]], dtype=torch.float64))
    front = camera.camera_to_world(torch.tensor([[10.0, 20.0, 2500.0], [-150.0, 80.0, 3000.0]], dtype=torch.float64))
    pixels = project(torch.cat([behind, front]), camera, projection)  # (J=3, 2)
    assert torch.isnan(pixels[0]).all() and torch.isfinite(pixels[1:]).all()
    if projection == "perspective":
        torch.testing.assert_close(pixels[1:], cv2_project(front, through_rodrigues(camera)), rtol=0, atol=1e-6)


def test_project_behind_the_camera_keeps_the_gradient_of_the_points_in_front(hd_cameras):
    camera = hd_cameras[0]
    points = camera.camera_to_world(torch.tensor([[100.0, 50.0, 0.0], [10.0, -30.0, -900.0], [5.0, 5.0, 2000.0]],
                                                 dtype=torch.float64)).requires_grad_(True)  # fmt: skip
    pixels = project(points, camera)
    (gradient,) = torch.autograd.grad(torch.nan_to_num(pixels).sum(), points)
    assert torch.isfinite(gradient).all() and (gradient[:2] == 0).all()
    expected = jacobian(lambda p: project(p, camera).sum(), points[2:].detach())[0]  # (3,)
    torch.testing.assert_close(gradient[2], expected)


def test_project_camera_points_still_projects_a_point_behind_for_the_losses(hd_cameras):
    """The losses' projection keeps Π_p as written (Eq. 12): a prediction behind the camera needs its gradient."""
    behind = torch.tensor([[100.0, 50.0, -2000.0]], dtype=torch.float64)
    pixels = project_camera_points(behind, hd_cameras.K[0])
    torch.testing.assert_close(pixels, project_camera_points(-behind, hd_cameras.K[0]))
