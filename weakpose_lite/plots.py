"""Views for the notebooks: matplotlib figures of 2D detections, 3D skeletons, learning curves and errors; plotly 3D
of the camera dome; an ipywidgets frame/view picker. The library computes, these functions only draw.

Inputs are tensors or arrays (converted with ``_numpy``), in the kit's units (pixels, millimetres). 3D is drawn with
the image's down axis (+y in camera and Panoptic world frames) pointing down the plot: display axes are
(x, z, −y), so a person stands upright and the depth axis runs into the picture.

Plotly figures are plain ``go.Figure`` objects (never ``FigureWidget``): they render with the ``plotly_mimetype`` or
``notebook_connected`` renderers and store a few kilobytes in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from weakpose_lite.cameras import Camera, camera_to_world, pixels_to_normalised
from weakpose_lite.files import atomic_path
from weakpose_lite.skeleton import Skeleton

IMAGE_SIZE = (1920, 1080)  # Panoptic HD, (width, height) px


def _numpy(values) -> np.ndarray:
    """A tensor (any device, with or without grad) or array-like -> a NumPy array."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _display(points) -> np.ndarray:
    """Points (..., 3) in a y-down frame -> display coordinates (..., 3): (x, z, −y), so that up is up."""
    points = _numpy(points)
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def bone_segments(points, skeleton: Skeleton, valid=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Joints (J, D) and optional valid (J,) -> the (parent, child) point pairs of bones whose two ends are valid."""
    points = _numpy(points)
    valid = np.ones(len(points), bool) if valid is None else _numpy(valid).astype(bool)
    return [(points[parent], points[child]) for parent, child in skeleton.bones if valid[parent] and valid[child]]


def plot_detections_2d(
    keypoints, confidence, skeleton: Skeleton, ax: Axes | None = None, title: str | None = None,
    image_size: tuple[int, int] = IMAGE_SIZE, truth=None,
) -> Axes:  # fmt: skip
    """One view's detections (J, 2) px with confidence (J,): bones and joints coloured by confidence; joints with
    confidence 0 (missing) are not drawn. ``truth`` (J, 2) px, optional, is drawn as hollow circles."""
    ax = ax if ax is not None else plt.figure(figsize=(5, 3)).add_subplot()
    keypoints, confidence = _numpy(keypoints), _numpy(confidence)
    detected = confidence > 0
    for start, end in bone_segments(keypoints, skeleton, detected):
        ax.plot([start[0], end[0]], [start[1], end[1]], color="0.4", linewidth=1)
    points = ax.scatter(*keypoints[detected].T, c=confidence[detected], cmap="viridis", vmin=0, vmax=1, s=12, zorder=3)
    if truth is not None:
        ax.scatter(*_numpy(truth).T, facecolors="none", edgecolors="tab:red", s=30, linewidths=0.8, label="projected 3D")
    ax.set_xlim(0, image_size[0])
    ax.set_ylim(image_size[1], 0)  # image y points down
    ax.set_aspect("equal")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.set_title(title or f"{int(detected.sum())}/{len(detected)} joints detected")
    ax.figure.colorbar(points, ax=ax, label="confidence", shrink=0.7)
    return ax


def plot_views_2d(
    keypoints, confidence, skeleton: Skeleton, views: Sequence[int], truth=None, columns: int = 3
) -> Figure:
    """One frame's detections (C, J, 2) and confidence (C, J) -> a figure of the chosen views, one panel each."""
    rows = -(-len(views) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3 * rows), squeeze=False)
    for ax, view in zip(axes.flat, views):
        view_truth = None if truth is None else truth[view]
        plot_detections_2d(keypoints[view], confidence[view], skeleton, ax=ax, truth=view_truth)
        ax.set_title(f"view {view}: {int((_numpy(confidence[view]) > 0).sum())} joints detected")
    for ax in list(axes.flat)[len(views) :]:
        ax.set_visible(False)
    figure.tight_layout()
    return figure


def draw_skeleton_3d(ax, pose, skeleton: Skeleton, color: str = "tab:blue", label: str | None = None, valid=None) -> None:
    """Draw a pose (J, 3) mm in a y-down frame on a matplotlib 3D axes, one line per bone whose joints are valid."""
    segments = bone_segments(_display(pose), skeleton, valid)
    for index, (start, end) in enumerate(segments):
        ax.plot(*np.stack([start, end]).T, color=color, linewidth=1.5, label=label if index == 0 else None)


def _set_equal_3d(ax, poses: Sequence[np.ndarray]) -> None:
    """Give a 3D axes the same scale on x, y and z around the poses (each (J, 3) display coordinates)."""
    points = np.concatenate([p[np.isfinite(p).all(-1)] for p in poses])
    centre = (points.max(0) + points.min(0)) / 2
    half = max((points.max(0) - points.min(0)).max() / 2, 1.0)
    for axis, middle in zip("xyz", centre):
        getattr(ax, f"set_{axis}lim")(middle - half, middle + half)
    ax.set_box_aspect((1, 1, 1))


def _label_3d(ax) -> None:
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("z, depth (mm)")
    ax.set_zlabel("−y, up (mm)")


def plot_poses_3d(poses: Mapping[str, object], skeleton: Skeleton, overlay: Mapping[str, object] | None = None) -> Figure:
    """Named poses {title: (J, 3) mm} -> one 3D panel per pose, side by side (as the paper's Fig. 3).

    ``overlay`` {title: (J, 3)} draws a second pose in red on the panel of the same title (e.g. the groundtruth).
    """
    figure = plt.figure(figsize=(3.6 * len(poses), 3.6))
    for index, (title, pose) in enumerate(poses.items()):
        ax = figure.add_subplot(1, len(poses), index + 1, projection="3d")
        draw_skeleton_3d(ax, pose, skeleton, label=title)
        shown = [_display(pose)]
        if overlay is not None and title in overlay:
            draw_skeleton_3d(ax, overlay[title], skeleton, color="tab:red", label="groundtruth")
            shown.append(_display(overlay[title]))
            ax.legend(loc="upper left", fontsize="small")
        _set_equal_3d(ax, shown)
        _label_3d(ax)
        ax.set_title(title)
    return figure


def plot_qualitative(examples: Sequence[Mapping], skeleton: Skeleton, image_size: tuple[int, int] = IMAGE_SIZE) -> Figure:
    """Rows of the paper's Fig. 3/4: each example {"keypoints" (J, 2) px, "confidence" (J,), "poses": {title: (J, 3)},
    "title": str} -> the 2D detection, then each 3D pose (e.g. strong, weak, groundtruth) on the same scale."""
    columns = 1 + max(len(example["poses"]) for example in examples)
    figure = plt.figure(figsize=(3.6 * columns, 3.4 * len(examples)))
    for row, example in enumerate(examples):
        ax = figure.add_subplot(len(examples), columns, row * columns + 1)
        plot_detections_2d(example["keypoints"], example["confidence"], skeleton, ax=ax, image_size=image_size)
        ax.set_title(example.get("title", "2D detection"), fontsize="small")
        shown = [_display(pose) for pose in example["poses"].values()]
        for column, (title, pose) in enumerate(example["poses"].items()):
            ax3d = figure.add_subplot(len(examples), columns, row * columns + column + 2, projection="3d")
            draw_skeleton_3d(ax3d, pose, skeleton, color="tab:green" if "truth" in title else "tab:blue")
            _set_equal_3d(ax3d, shown)
            _label_3d(ax3d)
            ax3d.set_title(title, fontsize="small")
    figure.tight_layout()
    return figure


# Apex (0), then the image corners (1-4): one polyline through all eight edges of the viewing pyramid.
_FRUSTUM_PATH = (0, 1, 2, 3, 4, 1, 0, 2, 3, 0, 4)


def frustum_lines(cameras: Camera, depth_mm: float = 300.0, image_size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """Cameras (C,) -> each camera's viewing pyramid, cut at ``depth_mm``, as one world polyline (C, 11, 3) mm."""
    width, height = image_size
    corners = torch.tensor([[0, 0], [width, 0], [width, height], [0, height]], dtype=cameras.K.dtype)
    normalised = pixels_to_normalised(corners.expand(*cameras.batch_shape, 4, 2), cameras.K)  # (C, 4, 2)
    rays = torch.cat([normalised, torch.ones_like(normalised[..., :1])], dim=-1) * depth_mm  # (C, 4, 3) camera frame
    vertices = torch.cat([torch.zeros_like(rays[..., :1, :]), rays], dim=-2)  # (C, 5, 3)
    return _numpy(camera_to_world(vertices[..., list(_FRUSTUM_PATH), :], cameras.R, cameras.t))


def _polylines(lines: np.ndarray) -> tuple[list, list, list]:
    """Polylines (N, P, 3) display coordinates -> x, y, z lists with None between polylines (one plotly trace)."""
    coordinates = ([], [], [])
    for line in lines:
        for axis in range(3):
            coordinates[axis].extend(line[:, axis].tolist() + [None])
    return coordinates


def plotly_dome(
    cameras: Camera, skeleton: Skeleton | None = None, pose_world=None, valid=None, depth_mm: float = 300.0
) -> go.Figure:
    """Cameras (C,) as frusta with numbered centres, and optionally a world pose (J, 3) mm, in one plotly 3D figure.

    Traces: [frusta lines, camera centres] and, with a pose, [bones, joints]. Display axes (x, z, −y), in mm.
    """
    frusta = _display(frustum_lines(cameras, depth_mm))
    x, y, z = _polylines(frusta)
    traces = [go.Scatter3d(x=x, y=y, z=z, mode="lines", line={"color": "gray", "width": 2}, name="cameras")]
    centres = _display(cameras.center)
    traces.append(go.Scatter3d(
        x=centres[:, 0], y=centres[:, 1], z=centres[:, 2], mode="markers+text", marker={"size": 3, "color": "black"},
        text=[str(index) for index in range(len(centres))], textfont={"size": 9}, name="camera centres",
    ))  # fmt: skip
    if pose_world is not None:
        traces.extend(plotly_skeleton_traces(pose_world, skeleton, valid))
    figure = go.Figure(traces)
    figure.update_layout(
        scene={"aspectmode": "data", "xaxis_title": "x (mm)", "yaxis_title": "z (mm)", "zaxis_title": "−y, up (mm)"},
        margin={"l": 0, "r": 0, "t": 30, "b": 0}, height=500, title="camera dome",
    )  # fmt: skip
    return figure


def plotly_skeleton_traces(pose, skeleton: Skeleton, valid=None, color: str = "royalblue", name: str = "pose") -> list:
    """A pose (J, 3) mm in a y-down frame -> two plotly traces: its bones (one polyline trace) and its joints."""
    points = _display(pose)
    valid = np.isfinite(points).all(-1) if valid is None else _numpy(valid).astype(bool)
    segments = np.array([np.stack(pair) for pair in bone_segments(points, skeleton, valid)]).reshape(-1, 2, 3)
    x, y, z = _polylines(segments)
    joints = points[valid]
    return [
        go.Scatter3d(x=x, y=y, z=z, mode="lines", line={"color": color, "width": 5}, name=f"{name} bones"),
        go.Scatter3d(
            x=joints[:, 0], y=joints[:, 1], z=joints[:, 2], mode="markers", marker={"size": 3, "color": color},
            text=[joint for joint, ok in zip(skeleton.joints, valid) if ok], name=f"{name} joints",
        ),
    ]  # fmt: skip


def plotly_poses_3d(poses: Mapping[str, object], skeleton: Skeleton) -> go.Figure:
    """Named poses {title: (J, 3) mm} in a y-down frame -> one plotly 3D scene per pose, side by side."""
    titles = list(poses)
    figure = make_subplots(1, len(titles), specs=[[{"type": "scene"}] * len(titles)], subplot_titles=titles)
    for index, title in enumerate(titles):
        for trace in plotly_skeleton_traces(poses[title], skeleton, name=title):
            figure.add_trace(trace, 1, index + 1)
    figure.update_scenes(aspectmode="data", xaxis_title="x (mm)", yaxis_title="z (mm)", zaxis_title="−y (mm)")
    figure.update_layout(showlegend=False)
    return figure


def save_and_close(figure: Figure, path: str | Path, dpi: int = 80) -> None:
    """Write a matplotlib figure to ``path`` (its suffix gives the format) atomically, then release it."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    plt.close(figure)


def plot_learning_curves(histories: Mapping[str, Sequence[Mapping]], keys: Sequence[str]) -> Figure:
    """Per-epoch histories {run name: [{"epoch": e, key: value, ...}, ...]} -> one panel per key, one line per run
    that recorded it (``train.train``'s ``TrainResult.history``)."""
    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            epochs = [record["epoch"] for record in history if key in record]
            if epochs:
                ax.plot(epochs, [record[key] for record in history if key in record], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def plot_series(x, series: Mapping[str, object], xlabel: str, ylabel: str, references: Mapping[str, float] | None = None,
                logy: bool = False) -> Axes:  # fmt: skip
    """Curves {name: (N,)} over x (N,), with optional dashed horizontal reference lines {name: value}."""
    ax = plt.figure(figsize=(5, 3.2)).add_subplot()
    for name, values in series.items():
        ax.plot(_numpy(x), _numpy(values), marker=".", label=name)
    for name, value in (references or {}).items():
        ax.axhline(value, linestyle="--", color="0.4", label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax


def plot_jacobian_vs_depth(depths, magnitudes: Mapping[str, object]) -> Axes:
    """Depths (D,) mm and Jacobian norms {projection name: (D,)} -> a log-log plot of how each scales with depth."""
    ax = plot_series(depths, magnitudes, "depth X_z (mm)", "‖J_Π‖ (Frobenius, per mm)", logy=True)
    ax.set_xscale("log")
    ax.set_title("Eq. 13: the perspective Jacobian shrinks as 1/X_z and its depth column as 1/X_z²", fontsize="small")
    return ax


def plot_per_joint_errors(joints: Sequence[str], errors: Mapping[str, Sequence[float]]) -> Axes:
    """Per-joint MPJPE {series name: (J,) mm} over joint names (J,) -> a grouped bar chart, one group per joint."""
    ax = plt.figure(figsize=(max(6, 0.55 * len(joints) * max(1, len(errors) / 2)), 3.5)).add_subplot()
    width = 0.8 / len(errors)
    positions = np.arange(len(joints))
    for index, (name, values) in enumerate(errors.items()):
        ax.bar(positions + (index - (len(errors) - 1) / 2) * width, _numpy(values), width, label=name)
    ax.set_xticks(positions, joints, rotation=60, ha="right", fontsize="small")
    ax.set_ylabel("MPJPE (mm)")
    ax.legend(fontsize="small")
    ax.figure.tight_layout()
    return ax


def frame_view_picker(num_frames: int, num_views: int, draw: Callable[[int, int], object], frame: int = 0, view: int = 0):
    """An ipywidgets ``interact`` over frame ∈ [0, num_frames) and view ∈ [0, num_views) calling ``draw(frame, view)``;
    without ipywidgets, the static figure ``draw(frame, view)`` for the given frame and view."""
    try:
        from ipywidgets import IntSlider, interact
    except ImportError:
        return draw(frame, view)
    return interact(
        lambda frame, view: draw(frame, view),
        frame=IntSlider(frame, 0, num_frames - 1, description="frame"),
        view=IntSlider(view, 0, num_views - 1, description="view"),
    )
