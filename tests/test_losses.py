"""Losses against plain-loop references and their defining properties (Eq. 3-11, 15)."""

import math
from dataclasses import replace

import pytest
import torch

from weakpose_lite import losses
from weakpose_lite.cameras import Camera, look_at_rotation, rotate_to_camera, rotate_to_world, world_to_camera
from weakpose_lite.losses import LossConfig
from weakpose_lite.model import NormalisationStats
from weakpose_lite.views import Views

pytestmark = pytest.mark.usefixtures("float64_default")  # compared against float64 references


def _huber_reference(distance: float, delta: float) -> float:
    return 0.5 * distance**2 if abs(distance) <= delta else delta * (abs(distance) - 0.5 * delta)


def _rig(frames: int, views: int, generator: torch.Generator):
    """Random cameras on a ring looking at the origin: R (F, C, 3, 3), t (F, C, 3), K (F, C, 3, 3)."""
    angles = torch.rand(frames, views, generator=generator) * 2 * math.pi
    centers = torch.stack([3000 * angles.cos(), -1000 - 500 * torch.rand(frames, views, generator=generator), 3000 * angles.sin()], -1)
    R = look_at_rotation(centers, torch.zeros(3).expand_as(centers), torch.tensor([0.0, -1.0, 0.0]))
    t = -(R @ centers.unsqueeze(-1)).squeeze(-1)
    K = torch.tensor([[1500.0, 0, 960], [0, 1500.0, 540], [0, 0, 1]]).expand(frames, views, 3, 3)
    return K, R, t


def _lm(world, view_mask, detach=False):
    average = losses.average_pose(world, view_mask)
    return losses.multiview_consistency_loss(world, average.detach() if detach else average, view_mask)


def test_huber_matches_textbook_definition():
    distances = torch.linspace(-3, 3, 61)
    for delta in (0.5, 1.0, 2.0):
        expected = torch.tensor([_huber_reference(d.item(), delta) for d in distances])
        torch.testing.assert_close(losses.huber(distances, delta), expected)


def test_multiview_consistency_is_zero_for_consistent_views():
    generator = torch.Generator().manual_seed(0)
    world_pose = torch.randn(4, 1, 18, 3, generator=generator) * 300
    _, R, _ = _rig(4, 6, generator)
    per_view_camera = rotate_to_camera(world_pose, R)  # each view sees the same world pose
    world = rotate_to_world(per_view_camera, R)
    view_mask = torch.ones(4, 6, dtype=torch.bool)
    assert _lm(world, view_mask).item() < 1e-9


def test_multiview_consistency_is_positive_for_inconsistent_views():
    generator = torch.Generator().manual_seed(1)
    world = torch.randn(2, 5, 18, 3, generator=generator) * 100
    assert _lm(world, torch.ones(2, 5, dtype=torch.bool)).item() > 1


def test_multiview_consistency_matches_plain_loop():
    generator = torch.Generator().manual_seed(2)
    world = torch.randn(3, 5, 4, 3, generator=generator) * 2
    view_mask = torch.rand(3, 5, generator=generator) > 0.3
    view_mask[:, 0] = True
    terms = []
    for f in range(3):
        present = [c for c in range(5) if view_mask[f, c]]
        mean = sum(world[f, c] for c in present) / len(present)
        for c in present:
            for j in range(4):
                terms.append(_huber_reference((mean[j] - world[f, c, j]).norm().item(), 1.0))
    expected = sum(terms) / len(terms)
    assert _lm(world, view_mask).item() == pytest.approx(expected, rel=1e-12)


def test_masked_views_do_not_change_the_multiview_loss():
    generator = torch.Generator().manual_seed(3)
    world = torch.randn(2, 6, 18, 3, generator=generator) * 50
    view_mask = torch.ones(2, 6, dtype=torch.bool)
    view_mask[:, 4:] = False
    reference = _lm(world, view_mask)
    garbage = world.clone()
    garbage[:, 4:] = 1e6
    torch.testing.assert_close(_lm(garbage, view_mask), reference)
    torch.testing.assert_close(_lm(world[:, :4], view_mask[:, :4]), reference)


def test_detached_target_keeps_value_but_changes_gradient():
    generator = torch.Generator().manual_seed(4)
    world = (torch.randn(1, 3, 2, 3, generator=generator) * 0.3).requires_grad_()
    mask = torch.ones(1, 3, dtype=torch.bool)
    attached = _lm(world, mask)
    detached = _lm(world, mask, detach=True)
    torch.testing.assert_close(attached, detached)
    (gradient_attached,) = torch.autograd.grad(attached, world)
    (gradient_detached,) = torch.autograd.grad(detached, world)
    # With every residual in Huber's quadratic zone, d/dŴ of mean ½|W̄ − Ŵ|² is (Ŵ − W̄)/n either way, because
    # the residuals sum to zero over views; the difference shows in the L1 zone, so scale up and compare again.
    torch.testing.assert_close(gradient_attached, gradient_detached)
    world_far = (world.detach() * 100).requires_grad_()
    (far_attached,) = torch.autograd.grad(_lm(world_far, mask), world_far)
    (far_detached,) = torch.autograd.grad(_lm(world_far, mask, detach=True), world_far)
    assert (far_attached - far_detached).abs().max() > 1e-3


def test_reprojection_is_zero_at_exact_projections_and_matches_loop():
    generator = torch.Generator().manual_seed(5)
    frames, views, joints = 3, 4, 5
    K, R, t = _rig(frames, views, generator)
    relative = torch.randn(frames, joints, 3, generator=generator) * 200
    root = torch.randn(frames, 3, generator=generator) * 300 + torch.tensor([0.0, -1000, 0])
    reprojected = losses.reproject_average_pose(relative, root, K, R, t)
    visible = torch.ones(frames, views, joints, dtype=torch.bool)
    assert losses.reprojection_loss(reprojected, reprojected.clone(), visible).item() == 0
    # Reference projection: one point at a time with numpy-free plain arithmetic.
    for f in range(frames):
        for c in range(views):
            for j in range(joints):
                point = R[f, c] @ (relative[f, j] + root[f]) + t[f, c]
                pixel = K[f, c] @ (point / point[2])
                torch.testing.assert_close(reprojected[f, c, j], pixel[:2])


def test_reprojection_scaled_orthographic_divides_by_root_depth():
    generator = torch.Generator().manual_seed(6)
    K, R, t = _rig(2, 3, generator)
    relative = torch.randn(2, 4, 3, generator=generator) * 200
    relative[:, 1] = 0  # joint 1 is the root
    root = torch.tensor([[0.0, -900, 100], [50.0, -1100, -80]])
    reprojected = losses.reproject_average_pose(relative, root, K, R, t, projection="scaled_orthographic")
    for f in range(2):  # plain arithmetic: every joint divided by the root's depth in that view, then K
        for c in range(3):
            root_depth = (R[f, c, 2] @ (relative[f, 1] + root[f]) + t[f, c, 2]).item()
            for j in range(4):
                x, y, _ = (R[f, c] @ (relative[f, j] + root[f]) + t[f, c]).tolist()
                (fx, skew, cx), (_, fy, cy) = K[f, c, 0].tolist(), K[f, c, 1].tolist()
                expected = [fx * x / root_depth + skew * y / root_depth + cx, fy * y / root_depth + cy]
                assert reprojected[f, c, j].tolist() == pytest.approx(expected, rel=1e-12)
    # the root itself projects exactly as under perspective
    perspective = losses.reproject_average_pose(relative, root, K, R, t)
    torch.testing.assert_close(reprojected[..., 1, :], perspective[..., 1, :])


def test_invisible_joints_do_not_change_reprojection_loss():
    generator = torch.Generator().manual_seed(7)
    reprojected = torch.randn(2, 3, 5, 2, generator=generator) * 10
    target = torch.randn(2, 3, 5, 2, generator=generator) * 10
    visible = torch.rand(2, 3, 5, generator=generator) > 0.4
    reference = losses.reprojection_loss(reprojected, target, visible)
    corrupted = torch.where(visible.unsqueeze(-1), target, torch.full_like(target, 1e9))
    torch.testing.assert_close(losses.reprojection_loss(reprojected, corrupted, visible), reference)
    terms = [
        _huber_reference((target[f, c, j] - reprojected[f, c, j]).norm().item(), 1.0)
        for f in range(2) for c in range(3) for j in range(5) if visible[f, c, j]
    ]
    assert reference.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)


def test_reprojection_scale_multiplies_residuals():
    reprojected = torch.zeros(1, 2, 1, 2)
    target = torch.tensor([[[[3.0, 4.0]], [[0.0, 0.5]]]])  # distances 5 and 0.5
    scale = torch.tensor([[2.0, 1.0]])
    visible = torch.ones(1, 2, 1, dtype=torch.bool)
    expected = (_huber_reference(10.0, 1.0) + _huber_reference(0.5, 1.0)) / 2
    assert losses.reprojection_loss(reprojected, target, visible, scale).item() == pytest.approx(expected)


def test_weak_loss_is_the_convex_mix():
    assert losses.weak_loss(torch.tensor(2.0), torch.tensor(10.0), lam=0.8).item() == pytest.approx(3.6)
    assert losses.weak_loss(torch.tensor(2.0), torch.tensor(10.0), lam=1.0).item() == pytest.approx(2.0)


def test_supervised_loss_ignores_invalid_targets_and_matches_loop():
    generator = torch.Generator().manual_seed(8)
    predicted = torch.randn(4, 6, 3, generator=generator)
    target = torch.randn(4, 6, 3, generator=generator)
    valid = torch.rand(4, 6, generator=generator) > 0.3
    target_nan = torch.where(valid.unsqueeze(-1), target, torch.full_like(target, float("nan")))
    value = losses.supervised_loss(predicted.requires_grad_(), target_nan, valid)
    terms = [_huber_reference((predicted[n, j] - target[n, j]).norm().item(), 1.0) for n in range(4) for j in range(6) if valid[n, j]]
    assert value.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    (gradient,) = torch.autograd.grad(value, predicted)
    assert torch.isfinite(gradient).all()
    assert (gradient[~valid] == 0).all()


def test_gradients_are_finite_when_views_agree_exactly():
    world = torch.ones(1, 1, 3, 3, requires_grad=True)  # one view: residual exactly zero
    loss = _lm(world, torch.ones(1, 1, dtype=torch.bool))
    (gradient,) = torch.autograd.grad(loss, world)
    assert torch.isfinite(gradient).all()


def test_empty_mask_gives_zero_not_nan():
    assert losses.masked_mean(torch.ones(3), torch.zeros(3, dtype=torch.bool)).item() == 0


# ---- hostile inputs: λ outside [0, 1]; NaN in what the masks leave out reaches neither value nor gradient ---------


@pytest.mark.parametrize("lam", [-0.1, 1.1, float("nan"), float("inf")])
def test_weak_loss_refuses_lambda_outside_zero_one(lam):
    with pytest.raises(ValueError, match=r"weak_loss: lam \(λ of Eq. 3\) must be in \[0, 1\], got"):
        losses.weak_loss(torch.tensor(2.0), torch.tensor(10.0), lam=lam)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_weak_loss_accepts_both_ends_of_zero_one(lam):
    assert losses.weak_loss(torch.tensor(2.0), torch.tensor(10.0), lam=lam).item() == pytest.approx(10 - 8 * lam)


def _world_with_an_absent_view(value: float):
    """Ŵ (3, 4, 5, 3) with view 2 of frame 1 absent and holding ``value``; the view mask (3, 4)."""
    generator = torch.Generator().manual_seed(11)
    world = torch.randn(3, 4, 5, 3, generator=generator) * 50
    view_mask = torch.ones(3, 4, dtype=torch.bool)
    view_mask[1, 2] = view_mask[2, 0] = False
    world[1, 2] = value
    return world, view_mask


BAD_VALUES = [float("nan"), float("inf"), -float("inf")]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_average_pose_ignores_whatever_an_absent_view_holds_like_a_loop(value):
    world, view_mask = _world_with_an_absent_view(value)
    world.requires_grad_(True)
    average = losses.average_pose(world, view_mask)
    for f in range(3):
        present = [world[f, c] for c in range(4) if view_mask[f, c]]
        torch.testing.assert_close(average[f], sum(present) / len(present))
    (gradient,) = torch.autograd.grad(average.sum(), world)
    assert torch.isfinite(gradient).all() and (gradient[~view_mask] == 0).all()


@pytest.mark.parametrize("value", BAD_VALUES)
def test_multiview_consistency_loss_and_its_gradient_ignore_an_absent_view_holding_nan(value):
    world, view_mask = _world_with_an_absent_view(value)
    world.requires_grad_(True)
    loss = _lm(world, view_mask)
    terms = []
    for f in range(3):
        present = [c for c in range(4) if view_mask[f, c]]
        mean = sum(world[f, c] for c in present) / len(present)
        terms += [_huber_reference((mean[j] - world[f, c, j]).norm().item(), 1.0) for c in present for j in range(5)]
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    (gradient,) = torch.autograd.grad(loss, world)
    assert torch.isfinite(gradient).all() and (gradient[~view_mask] == 0).all()


@pytest.mark.parametrize("value", BAD_VALUES)
def test_reprojection_loss_and_its_gradient_ignore_invisible_joints_holding_nan(value):
    generator = torch.Generator().manual_seed(12)
    reprojected = (torch.randn(2, 3, 4, 2, generator=generator) * 5).requires_grad_(True)
    target = torch.randn(2, 3, 4, 2, generator=generator) * 5
    visible = torch.rand(2, 3, 4, generator=generator) > 0.3
    target = torch.where(visible.unsqueeze(-1), target, value)
    loss = losses.reprojection_loss(reprojected, target, visible)
    terms = [_huber_reference((target[f, c, j] - reprojected[f, c, j]).norm().item(), 1.0)
             for f in range(2) for c in range(3) for j in range(4) if visible[f, c, j]]  # fmt: skip
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    (gradient,) = torch.autograd.grad(loss, reprojected)
    assert torch.isfinite(gradient).all() and (gradient[~visible] == 0).all()


@pytest.mark.parametrize("value", BAD_VALUES)
def test_masked_mean_ignores_masked_out_values_whatever_they_hold(value):
    values = torch.tensor([1.0, value, 3.0, value])
    mask = torch.tensor([True, False, True, False])
    assert losses.masked_mean(values, mask).item() == 2.0


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_weighted_masked_mean_is_the_weighted_average_of_the_masked_in_values_only(value):
    values = torch.tensor([1.0, value, 3.0, value, 6.0])
    weights = torch.tensor([0.5, value, 0.25, 1.0, 0.25])
    mask = torch.tensor([True, False, True, False, True])
    assert losses.masked_mean(values, mask, weights).item() == pytest.approx((0.5 * 1 + 0.25 * 3 + 0.25 * 6) / 1.0, rel=1e-12)


def test_a_weighted_masked_mean_with_no_weight_masked_in_is_zero_not_nan():
    mask = torch.tensor([True, False])
    assert losses.masked_mean(torch.tensor([5.0, 1.0]), mask, torch.tensor([0.0, 1.0])).item() == 0.0
    assert losses.masked_mean(torch.tensor([5.0, 1.0]), torch.zeros(2, dtype=torch.bool), torch.ones(2)).item() == 0.0


@pytest.mark.parametrize(
    "mask", [torch.ones(4), torch.ones(1, dtype=torch.bool), torch.ones(2, 4, dtype=torch.bool)],
    ids=["float mask", "broadcasting (1,)", "broadcasting (2, 4)"],
)  # fmt: skip
def test_masked_mean_refuses_a_mask_that_is_not_bool_of_the_values_shape(mask):
    with pytest.raises(ValueError, match=r"masked_mean: mask must be bool \(4,\)"):
        losses.masked_mean(torch.ones(4), mask)



# ---- the weak objective (Eq. 3) in its units ----------------------------------------------------------------------


def _batch(pixels, K, R, t, root_world, visible, usable, root_depth, confidence=None) -> Views:
    """A batch of views with the fields the weak objective reads (F, C, J); confidence 1 where visible by default."""
    frames, views, joints, _ = pixels.shape
    confidence = visible.to(pixels.dtype) if confidence is None else confidence
    return Views(
        relative_2d=torch.zeros(frames, views, joints, 2), visible=visible, confidence=confidence, usable=usable,
        pixels=pixels,
        cameras=Camera(K, R, t, torch.zeros(frames, views, 5)), root_depth=root_depth, root_world=root_world,
        root_valid=torch.ones(frames, dtype=torch.bool),
    )  # fmt: skip


def _stats(std_3d: float, std_2d: float, joints: int) -> NormalisationStats:
    return NormalisationStats(torch.zeros(joints, 2), torch.full((joints, 2), std_2d), torch.zeros(joints, 3),
                              torch.full((joints, 3), std_3d))  # fmt: skip


# Two views of one frame through the same camera (R = I, 3 m away, f = 1000 px), two joints (the root at the world
# origin): the views disagree by 60 mm on joint 1 (30 mm from their average each), and joint 1 is detected 5 px
# (3, 4) from where the average re-projects. σ_X = 60 mm, σ_x = 0.02 (f σ_x = 20 px).
_HAND_CASES = {
    # units: (L_M's residual, L_M = mean of its Huber over 4 terms, L_R's residual, L_R likewise), by hand
    ("cm", "pixels"): (3.0, 2 * (3.0 - 0.5) / 4, 5.0, 2 * (5.0 - 0.5) / 4),  # both linear
    ("mm", "mm"): (30.0, 2 * (30.0 - 0.5) / 4, 15.0, 2 * (15.0 - 0.5) / 4),  # 5 px × Z / f = 15 mm, linear
    ("mm", "pixels"): (30.0, 2 * (30.0 - 0.5) / 4, 5.0, 2 * (5.0 - 0.5) / 4),
    ("normalised", "normalised"): (0.5, 2 * 0.5**2 / 2 / 4, 0.25, 2 * 0.25**2 / 2 / 4),  # both quadratic
}


def _hand_batch():
    K = torch.tensor([[1000.0, 0, 500], [0, 1000.0, 400], [0, 0, 1]]).expand(1, 2, 3, 3)
    R = torch.eye(3).expand(1, 2, 3, 3)
    t = torch.tensor([0.0, 0, 3000]).expand(1, 2, 3)
    predicted = torch.tensor([[[[0.0, 0, 0], [0, -600, 0]], [[0, 0, 0], [60, -600, 0]]]])  # (1, 2, 2, 3)
    # the average's joint 1, (30, -600, 0) mm, projects to (500 + 1000·30/3000, 400 − 1000·600/3000) = (510, 200)
    pixels = torch.tensor([[[500.0, 400], [513, 204]]]).expand(1, 2, 2, 2)
    every = torch.ones(1, 2, 2, dtype=torch.bool)
    return predicted, _batch(pixels, K, R, t, torch.zeros(1, 3), every, every[..., 0], torch.full((1, 2), 3000.0))


@pytest.mark.parametrize("units", _HAND_CASES, ids=lambda pair: "_".join(pair))
def test_each_unit_puts_a_known_residual_in_the_expected_huber_zone_with_the_hand_computed_value(units):
    multiview_residual, multiview, reprojection_residual, reprojection = _HAND_CASES[units]
    predicted, batch = _hand_batch()
    config = LossConfig(lam=0.8, multiview_unit=units[0], reprojection_unit=units[1])
    stats = _stats(std_3d=60.0, std_2d=0.02, joints=2)
    residuals = losses.weak_residuals(predicted, batch, batch, config, "perspective", stats)
    torch.testing.assert_close(residuals.multiview, torch.tensor([[[0.0, multiview_residual]] * 2]))
    torch.testing.assert_close(residuals.reprojection, torch.tensor([[[0.0, reprojection_residual]] * 2]))
    terms = losses.weak_objective(predicted, batch, batch, config, "perspective", stats)
    assert terms["multiview"].item() == pytest.approx(multiview, rel=1e-12)
    assert terms["reprojection"].item() == pytest.approx(reprojection, rel=1e-12)
    assert terms["loss"].item() == pytest.approx(0.8 * multiview + 0.2 * reprojection, rel=1e-12)


def _huber_mean(distances: list[float], delta: float, weights: list[float] | None = None) -> float:
    weights = [1.0] * len(distances) if weights is None else weights
    total = sum(weights)
    return sum(w * _huber_reference(d, delta) for d, w in zip(distances, weights)) / total if total else 0.0


def _weak_loss_by_loops(predicted, batch, config, projection, std_3d, std_2d_rms) -> tuple[float, float, float]:
    """Eq. 3-11 one frame, view and joint at a time in Python floats: (L_M, L_R, λ L_M + (1 − λ) L_R)."""
    frames, views, joints, _ = predicted.shape
    cameras = batch.cameras
    multiview_distances, reprojection_distances, reprojection_weights = [], [], []
    for f in range(frames):
        used = [c for c in range(views) if batch.usable[f, c]]
        world = {c: [[sum(cameras.R[f, c, k, i].item() * predicted[f, c, j, k].item() for k in range(3))  # Rᵀ x
                      for i in range(3)] for j in range(joints)] for c in used}  # fmt: skip
        average = [[sum(world[c][j][i] for c in used) / len(used) for i in range(3)] for j in range(joints)]
        divide_by = {"cm": 10.0, "mm": 1.0, "normalised": std_3d}[config.multiview_unit]
        for c in used:
            for j in range(joints):
                multiview_distances.append(math.dist(average[j], world[c][j]) / divide_by)
        root = batch.root_world[f].tolist()
        for c in used:
            R, t, K = cameras.R[f, c].tolist(), cameras.t[f, c].tolist(), cameras.K[f, c].tolist()
            root_depth = sum(R[2][k] * root[k] for k in range(3)) + t[2]
            focal = (K[0][0] + K[1][1]) / 2
            multiply_by = {"pixels": 1.0, "mm": root_depth / focal, "normalised": 1 / (focal * std_2d_rms)}
            for j in range(joints):
                if not batch.visible[f, c, j]:
                    continue
                point = [sum(R[i][k] * (average[j][k] + root[k]) for k in range(3)) + t[i] for i in range(3)]
                depth = point[2] if projection == "perspective" else root_depth
                pixel = [K[0][0] * point[0] / depth + K[0][1] * point[1] / depth + K[0][2], K[1][1] * point[1] / depth + K[1][2]]
                distance = math.dist(pixel, batch.pixels[f, c, j].tolist()) * multiply_by[config.reprojection_unit]
                cap = math.inf if config.reprojection_cap is None else config.reprojection_cap
                reprojection_distances.append(min(distance, cap))
                confidence = batch.confidence[f, c, j].item()
                reprojection_weights.append(confidence if config.reprojection_weights == "confidence" else 1.0)
    multiview = _huber_mean(multiview_distances, config.huber_delta)
    reprojection = _huber_mean(reprojection_distances, config.huber_delta, reprojection_weights)
    return multiview, reprojection, config.lam * multiview + (1 - config.lam) * reprojection


_LEVERS = {  # beyond the paper; "cap" caps L_R's residuals at their median on the batch (half of them capped)
    "none": {}, "confidence": {"reprojection_weights": "confidence"}, "cap": {"reprojection_cap": "median"},
    "both": {"reprojection_weights": "confidence", "reprojection_cap": "median"},
}


@pytest.mark.parametrize("lever", _LEVERS)
@pytest.mark.parametrize("projection", ["perspective", "scaled_orthographic"])
@pytest.mark.parametrize("units", ["cm_pixels", "mm", "mm_pixels", "normalised", "normalised_pixels", "cm_mm"])
def test_weak_objective_matches_equation_3_computed_by_plain_loops(units, projection, lever):
    generator = torch.Generator().manual_seed(11)
    frames, views, joints = 3, 4, 5
    K, R, t = _rig(frames, views, generator)
    K = K * torch.tensor([[1.0, 1, 1], [1, 0.93, 1], [1, 1, 1]])  # f_x ≠ f_y: the focal length is their mean
    root_world = torch.randn(frames, 3, generator=generator) * 200 + torch.tensor([0.0, -1000, 0])
    predicted = torch.randn(frames, views, joints, 3, generator=generator) * 200
    predicted[..., 0, :] = 0  # joint 0 is the root
    usable = torch.rand(frames, views, generator=generator) > 0.3
    usable[:, :2] = True
    visible = (torch.rand(frames, views, joints, generator=generator) > 0.2) & usable[..., None]
    pixels = torch.rand(frames, views, joints, 2, generator=generator) * torch.tensor([1920.0, 1080])
    root_depth = world_to_camera(root_world[:, None, None], R, t)[..., 0, 2]
    confidence = torch.where(visible, torch.rand(frames, views, joints, generator=generator), 0)
    batch = _batch(pixels, K, R, t, root_world, visible, usable, root_depth, confidence)
    stats = NormalisationStats(torch.zeros(joints, 2), 0.01 + torch.rand(joints, 2, generator=generator) * 0.1,
                               torch.zeros(joints, 3), 20 + torch.rand(joints, 3, generator=generator) * 100)  # fmt: skip
    config = LossConfig.in_units(units, lam=0.7, huber_delta=1.5, **(_LEVERS[lever] | {"reprojection_cap": None}))
    if "reprojection_cap" in _LEVERS[lever]:
        residuals = losses.weak_residuals(predicted, batch, batch, config, projection, stats)
        config = replace(config, reprojection_cap=residuals.reprojection[residuals.reprojection_counted].median().item())
    terms = losses.weak_objective(predicted, batch, batch, config, projection, stats)
    expected = _weak_loss_by_loops(predicted, batch, config, projection, stats.std_3d.mean().item(),
                                   math.sqrt(stats.std_2d.square().mean().item()))  # fmt: skip
    got = (terms["multiview"].item(), terms["reprojection"].item(), terms["loss"].item())
    assert got == pytest.approx(expected, rel=1e-10)


def test_the_cap_holds_a_far_detection_at_a_constant_penalty_with_no_gradient_and_leaves_the_near_ones():
    predicted, batch = _hand_batch()  # joint 1 is 5 px from where W̄ re-projects in both views
    predicted.requires_grad_(True)
    stats = _stats(60.0, 0.02, 2)
    capped = losses.weak_objective(predicted, batch, batch, LossConfig(lam=0.0, reprojection_cap=4.0), "perspective", stats)
    assert capped["reprojection"].item() == pytest.approx(2 * (4.0 - 0.5) / 4, rel=1e-12)  # the 5 px held at 4
    (gradient,) = torch.autograd.grad(capped["loss"], predicted)
    assert (gradient == 0).all()
    above = losses.weak_objective(predicted, batch, batch, LossConfig(lam=0.0, reprojection_cap=6.0), "perspective", stats)
    assert above["reprojection"].item() == pytest.approx(_HAND_CASES["cm", "pixels"][3], rel=1e-12)


def test_confidence_weights_make_l_r_the_confidence_weighted_mean_of_its_terms():
    predicted, batch = _hand_batch()  # residuals 0 (root) and 5 px (joint 1) in each of the two views
    confidence = torch.tensor([[[1.0, 0.2], [0.5, 0.8]]])
    batch = replace(batch, confidence=confidence)
    config = LossConfig(reprojection_weights="confidence")
    terms = losses.weak_objective(predicted, batch, batch, config, "perspective", _stats(60.0, 0.02, 2))
    expected = (0.2 * (5.0 - 0.5) + 0.8 * (5.0 - 0.5)) / (1.0 + 0.2 + 0.5 + 0.8)
    assert terms["reprojection"].item() == pytest.approx(expected, rel=1e-12)
    uniform = losses.weak_objective(predicted, batch, batch, LossConfig(), "perspective", _stats(60.0, 0.02, 2))
    assert uniform["multiview"].item() == terms["multiview"].item()  # L_M is not weighted


@pytest.mark.parametrize(
    "changes, message",
    [({"reprojection_cap": 0.0}, "reprojection_cap must be a positive number or None, got 0.0"),
     ({"reprojection_cap": -1.0}, "reprojection_cap must be a positive number or None"),
     ({"reprojection_weights": "visibility"}, "reprojection_weights must be one of uniform, confidence, got 'visibility'")],
)  # fmt: skip
def test_levers_that_mean_nothing_are_refused_when_the_config_is_built(changes, message):
    with pytest.raises(ValueError, match=message):
        LossConfig(**changes)


def test_weak_objective_detached_average_keeps_the_value():
    predicted, batch = _hand_batch()
    stats = _stats(60.0, 0.02, 2)
    attached = losses.weak_objective(predicted, batch, batch, LossConfig(), "perspective", stats)
    detached = losses.weak_objective(predicted, batch, batch, LossConfig(detach_average=True), "perspective", stats)
    assert {k: v.item() for k, v in attached.items()} == {k: v.item() for k, v in detached.items()}


def test_the_warm_up_projects_scaled_orthographically_then_in_perspective():
    assert [losses.warmup_projection(step, 3) for step in range(5)] == ["scaled_orthographic"] * 3 + ["perspective"] * 2
    assert losses.warmup_projection(0, 0) == "perspective"


@pytest.mark.parametrize("units", ["cm_pixels", "mm_pixels", "mm", "normalised", "normalised_pixels", "cm_normalised"])
def test_a_units_name_reads_back_as_itself(units):
    assert LossConfig.in_units(units).units == units


@pytest.mark.parametrize("units", ["mixed", "cm", "pixels", "mm_inches", ""])
def test_a_units_name_that_names_no_unit_pair_is_refused(units):
    with pytest.raises(ValueError, match=f"loss_units must be L_M's unit .* got '{units}'"):
        LossConfig.in_units(units)
