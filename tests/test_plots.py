"""Smoke tests of the notebook views: each draws without error and has the structure it promises (traces, lines,
labels), checked against counts worked out by hand from the skeleton and cameras, never against pixels."""

import math

import matplotlib
import numpy as np
import pytest
import torch

from weakpose_lite import plots
from weakpose_lite.cameras import Camera, camera_to_world, look_at_rotation
from weakpose_lite.skeleton import BODY


@pytest.fixture(autouse=True)
def agg_backend():
    """Draw off-screen for these tests only, then close every figure."""
    previous = matplotlib.get_backend()
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.use(previous)


def _pose() -> torch.Tensor:
    """A standing-ish pose (18, 3) mm, y down, distinct joints."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(BODY.num_joints, 3, generator=generator) * 200 + torch.tensor([0.0, -1000.0, 0.0])


def _ring_cameras(count: int = 4) -> Camera:
    """``count`` cameras on a horizontal ring of radius 3 m at 1.5 m height, looking at (0, −1 m, 0)."""
    angles = torch.arange(count, dtype=torch.float64) * 2 * math.pi / count
    centres = torch.stack([3000 * torch.cos(angles), torch.full_like(angles, -1500.0), 3000 * torch.sin(angles)], -1)
    R = look_at_rotation(centres, torch.tensor([0.0, -1000.0, 0.0], dtype=torch.float64), torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64))
    t = -(R @ centres.unsqueeze(-1)).squeeze(-1)
    K = torch.tensor([[1400.0, 0, 960], [0, 1400, 540], [0, 0, 1]], dtype=torch.float64).expand(count, 3, 3)
    return Camera(K, R, t, torch.zeros(count, 5, dtype=torch.float64))


def test_detections_2d_hides_missing_joints_and_their_bones():
    keypoints = torch.rand(BODY.num_joints, 2) * torch.tensor([1920.0, 1080.0])
    confidence = torch.rand(BODY.num_joints) * 0.9 + 0.1
    missing = [BODY.index("left_wrist"), BODY.index("nose")]
    confidence[missing] = 0
    ax = plots.plot_detections_2d(keypoints, confidence, BODY)
    expected_bones = sum(1 for a, b in BODY.bones if a not in missing and b not in missing)
    assert len(ax.lines) == expected_bones
    assert len(ax.collections[0].get_offsets()) == BODY.num_joints - len(missing)
    assert ax.get_xlabel() == "x (px)" and ax.get_ylim()[0] > ax.get_ylim()[1]  # image y axis points down


def test_views_2d_draws_one_panel_per_view():
    keypoints = torch.rand(5, BODY.num_joints, 2) * 1000
    confidence = torch.ones(5, BODY.num_joints)
    figure = plots.plot_views_2d(keypoints, confidence, BODY, views=[0, 2, 4, 1], columns=3)
    visible = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert [ax.get_title().split(":")[0] for ax in visible] == ["view 0", "view 2", "view 4", "view 1"]


def test_display_axes_put_up_along_plus_z():
    head_above_feet = np.array([[0.0, -1700.0, 10.0], [0.0, 0.0, 10.0]])  # world y points down
    shown = plots._display(head_above_feet)
    assert shown[0, 2] > shown[1, 2] and shown[0, 1] == 10.0


def test_poses_3d_draws_each_bone_per_panel_and_overlay():
    pose = _pose()
    figure = plots.plot_poses_3d({"prediction": pose, "other": pose * 0.5}, BODY, overlay={"prediction": pose + 10})
    first, second = figure.axes
    assert len(first.lines) == 2 * len(BODY.bones) and len(second.lines) == len(BODY.bones)
    assert first.get_zlabel() == "−y, up (mm)"


def test_qualitative_has_a_2d_panel_then_the_3d_panels_per_row():
    pose = _pose()
    example = {"keypoints": torch.rand(BODY.num_joints, 2) * 1000, "confidence": torch.ones(BODY.num_joints),
               "poses": {"strong": pose, "weak": pose, "groundtruth": pose}}  # fmt: skip
    figure = plots.plot_qualitative([example, example], BODY)
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 4
    assert [ax.name for ax in panels[:4]] == ["rectilinear", "3d", "3d", "3d"]


def test_frustum_apex_is_the_camera_centre_and_corners_lie_at_the_depth():
    cameras = _ring_cameras(3)
    lines = torch.as_tensor(plots.frustum_lines(cameras, depth_mm=500.0))
    assert lines.shape == (3, len(plots._FRUSTUM_PATH), 3)
    torch.testing.assert_close(lines[:, 0], cameras.center)
    in_camera = lines @ cameras.R.transpose(-1, -2) + cameras.t.unsqueeze(-2)  # independent world -> camera
    corners = in_camera[:, [i for i, vertex in enumerate(plots._FRUSTUM_PATH) if vertex != 0]]
    torch.testing.assert_close(corners[..., 2], torch.full_like(corners[..., 2], 500.0))
    torch.testing.assert_close(camera_to_world(in_camera, cameras.R, cameras.t), lines)


def test_frustum_polyline_covers_all_eight_pyramid_edges():
    edges = {frozenset(pair) for pair in zip(plots._FRUSTUM_PATH, plots._FRUSTUM_PATH[1:])}
    expected = {frozenset((0, corner)) for corner in range(1, 5)}
    expected |= {frozenset((corner, corner % 4 + 1)) for corner in range(1, 5)}
    assert edges == expected


def test_plotly_dome_has_frusta_centres_bones_and_joints():
    cameras, pose = _ring_cameras(4), _pose()
    valid = torch.ones(BODY.num_joints, dtype=torch.bool)
    valid[BODY.index("left_ankle")] = False
    figure = plots.plotly_dome(cameras, BODY, pose, valid)
    assert [trace.type for trace in figure.data] == ["scatter3d"] * 4
    frusta, centres, bones, joints = figure.data
    assert sum(value is None for value in frusta.x) == 4  # one break after each camera's polyline
    assert len(centres.x) == 4 and list(centres.text) == ["0", "1", "2", "3"]
    drawn_bones = sum(1 for a, b in BODY.bones if valid[a] and valid[b])
    assert sum(value is None for value in bones.x) == drawn_bones
    assert len(joints.x) == BODY.num_joints - 1 and "left_ankle" not in joints.text
    assert figure.layout.scene.zaxis.title.text == "−y, up (mm)"


def test_learning_curves_draw_one_line_per_run_that_recorded_the_key():
    strong = [{"epoch": e, "train_loss": 1.0 / e, "validation_mpjpe_mm": 100.0 / e} for e in (1, 2, 3)]
    weak = [{"epoch": e, "train_loss": 2.0 / e, "validation_loss": 1.0} for e in (1, 2, 3)]
    figure = plots.plot_learning_curves({"strong": strong, "weak": weak}, ["train_loss", "validation_mpjpe_mm"])
    losses, errors = figure.axes
    assert len(losses.lines) == 2 and len(errors.lines) == 1
    assert list(errors.lines[0].get_xdata()) == [1, 2, 3] and errors.get_ylabel() == "validation_mpjpe_mm"


def test_series_draws_curves_and_reference_lines():
    ax = plots.plot_series([1, 2, 3], {"a": [1, 2, 3], "b": torch.tensor([3.0, 2, 1])}, "epoch", "mm", {"truth": 2.0})
    assert len(ax.lines) == 3 and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "mm"
    assert list(ax.lines[2].get_ydata()) == [2.0, 2.0]


def test_jacobian_plot_is_log_log_with_one_line_per_projection():
    depths = np.array([500.0, 1000.0, 4000.0])
    ax = plots.plot_jacobian_vs_depth(depths, {"perspective": 1 / depths, "scaled orthographic": 1 / depths})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and len(ax.lines) == 2


def test_per_joint_bars_one_bar_per_joint_and_series():
    joints = ["nose", "left_ear", "right_ear"]
    ax = plots.plot_per_joint_errors(joints, {"ours": [1, 2, 3], "paper": [2, 3, 4]})
    assert len(ax.patches) == 6
    assert [label.get_text() for label in ax.get_xticklabels()] == joints


def test_picker_calls_draw_with_the_initial_frame_and_view():
    calls = []
    plots.frame_view_picker(10, 4, lambda frame, view: calls.append((frame, view)), frame=3, view=2)
    assert calls[0] == (3, 2)


def test_picker_falls_back_to_a_static_figure_without_ipywidgets(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name.startswith("ipywidgets"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    result = plots.frame_view_picker(10, 4, lambda frame, view: ("static", frame, view), frame=1, view=2)
    assert result == ("static", 1, 2)
