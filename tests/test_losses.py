"""Losses against plain-loop references and their defining properties (Eq. 3-11, 15)."""

import math

import pytest
import torch

from weakpose_lite import losses
from weakpose_lite.cameras import look_at_rotation, rotate_to_camera, rotate_to_world, world_to_camera

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
    camera_points = world_to_camera((relative + root[:, None]).unsqueeze(1), R, t)
    root_depth = camera_points[..., 1, 2]
    expected = camera_points[..., :2] / root_depth[..., None, None] @ K[..., :2, :2].transpose(-1, -2) + K[..., None, :2, 2]
    torch.testing.assert_close(reprojected, expected)
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


@pytest.mark.parametrize(
    "mask", [torch.ones(4), torch.ones(1, dtype=torch.bool), torch.ones(2, 4, dtype=torch.bool)],
    ids=["float mask", "broadcasting (1,)", "broadcasting (2, 4)"],
)  # fmt: skip
def test_masked_mean_refuses_a_mask_that_is_not_bool_of_the_values_shape(mask):
    with pytest.raises(ValueError, match=r"masked_mean: mask must be bool of the shape of values \(4,\)"):
        losses.masked_mean(torch.ones(4), mask)
