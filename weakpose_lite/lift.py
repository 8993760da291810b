"""Lift your own 2D detections to 3D with a trained checkpoint: ``python -m weakpose_lite.lift``.

    # one camera, no calibration: root-relative poses in the camera frame (principal point at the image centre)
    python -m weakpose_lite.lift best.pt openpose_json/ -o poses.json --focal 1400 --image-size 1920 1080
    # one camera of a Panoptic calibration (its K and lens): root-relative poses in that camera's frame
    python -m weakpose_lite.lift best.pt openpose_json/ -o poses.json --calibration calibration_seq.json --view 00_03
    # several calibrated views of the same moments, one folder per view (<input>/hd_00_XX/): world poses
    python -m weakpose_lite.lift best.pt openpose_views/ -o poses.npz --calibration calibration_seq.json
    # the kit's own dataset file, with its cameras: world poses
    python -m weakpose_lite.lift best.pt test.npz -o poses.json --plot

What is read: ``data.formats.user_inputs``. How it is lifted (single view: h_θ's root-relative pose in the camera
frame; several calibrated views: fused in the world frame, with the views' spread as an uncertainty) and why a
frame has no pose: ``inference``. The output file's schema: ``poses_file``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from weakpose_lite import inference, plots
from weakpose_lite.configs import CommandParser, add_arguments, check_field_types, from_arguments, option, run_command
from weakpose_lite.data.formats.user_inputs import SingleViewCamera, check_input, read_user_detections
from weakpose_lite.files import atomic_path
from weakpose_lite.model import LiftingNetwork
from weakpose_lite.poses_file import LiftResult, check_output, write_poses
from weakpose_lite.progress import progress_bar
from weakpose_lite.train import load_model
from weakpose_lite.views import make_views


@dataclass(frozen=True)
class LiftConfig:
    """What to lift and how; the command line fills the same fields."""

    checkpoint: str = field(metadata={"help": "a training checkpoint (best.pt)"})
    input: str = field(metadata={"help": "OpenPose JSON file or folder, per-view folders, or a dataset .npz"})
    output: str = field(metadata={"help": "poses file, .json or .npz", "short": "-o"})
    calibration: str | None = option(None, "Panoptic calibration JSON (one view's K and lens, or every view)")
    view: str | None = option(None, "the calibration's camera a single-view folder was filmed with, like 00_03")
    camera_type: str = option("hd", "camera type in the calibration and folder names")
    focal: float | None = option(None, "focal length in pixels (single view without calibration)")
    image_size: tuple[float, float] | None = option(None, "image width and height in pixels (with --focal)")
    min_visible_joints: int | None = option(None, "fewer detected joints: not lifted; none: the training's value")
    batch_size: int = option(8192, "poses per network call")
    plot: bool = option(False, "also write a PNG and an HTML of a few lifted frames beside the output")
    plot_frames: int = option(4, "how many frames to plot")

    def __post_init__(self):
        check_field_types(self)
        if self.batch_size < 1 or self.plot_frames < 1:
            raise ValueError(f"batch_size and plot_frames must be at least 1, got {self.batch_size}, {self.plot_frames}")
        if self.min_visible_joints is not None and self.min_visible_joints < 1:
            raise ValueError(f"min_visible_joints must be at least 1, got {self.min_visible_joints}")


def load_lifting_model(path: str | Path) -> tuple[LiftingNetwork, int]:
    """A checkpoint -> the network (it knows its skeleton) and the ``min_visible_joints`` it was trained with."""
    model, train_config = load_model(path)
    return model, train_config.min_visible_joints


def lift(config: LiftConfig) -> LiftResult:
    """Read the checkpoint and detections of ``config``, lift them, write the output (and plots); returns the result."""
    started = time.perf_counter()
    output = check_output(config.output, (config.checkpoint, config.input, config.calibration))
    check_input(config.input)
    model, trained_min_visible = load_lifting_model(config.checkpoint)
    min_visible = trained_min_visible if config.min_visible_joints is None else config.min_visible_joints
    camera = SingleViewCamera(config.calibration, config.view, config.focal, config.image_size)
    detections = read_user_detections(config.input, model.skeleton, camera, config.camera_type)
    for skipped in detections.skipped_files:
        print(f"skipped {skipped['file']}: {skipped['error']}", file=sys.stderr)
    views = make_views(detections.dataset, with_targets=False, min_visible_joints=min_visible)
    with progress_bar(total=views.usable.shape[0], desc="lifting", unit="frame") as progress:
        network_started = time.perf_counter()
        lifted = inference.lift_views(
            model, views, detections.dataset.view_mask, detections.coordinate_frame, config.batch_size, progress.update,
        )  # fmt: skip
        network_seconds = time.perf_counter() - network_started
    result = LiftResult(
        coordinate_frame=detections.coordinate_frame, skeleton=model.skeleton, frame=detections.dataset.frame_ids,
        person=detections.people, sources=detections.sources, lifted=lifted, skipped_files=detections.skipped_files,
        seconds=time.perf_counter() - started, network_poses=int(views.usable.sum()), network_seconds=network_seconds,
    )  # fmt: skip
    write_poses(output, result, {"checkpoint": str(config.checkpoint), "input": str(config.input)})
    print(summary_line(result))
    if config.plot:
        written = write_plots(output, result, config.plot_frames)
        print("plots: " + (", ".join(str(path) for path in written) if written else "none (nothing was lifted)"))
    return result


def write_plots(output: Path, result: LiftResult, count: int = 4) -> tuple[Path, ...]:
    """A PNG (matplotlib) and an HTML (plotly, plotly.js from its CDN: ~10 kB + the poses) of up to ``count`` lifted
    rows spread over the run, beside ``output``; nothing when no row was lifted. Returns the paths written."""
    lifted = result.lifted_rows()
    rows = [lifted[round(i * (len(lifted) - 1) / max(count - 1, 1))] for i in range(min(count, len(lifted)))]
    if not rows:
        return ()
    poses = {f"frame {int(result.frame[row])} person {int(result.person[row])}": result.lifted.poses[row] for row in rows}
    png, html = output.with_suffix(".png"), output.with_suffix(".html")
    figure = plots.plot_poses_3d(poses, result.skeleton)
    figure.suptitle(f"lifted poses, {result.coordinate_frame} frame")
    plots.save_and_close(figure, png)
    with atomic_path(html) as temporary:
        plots.plotly_poses_3d(poses, result.skeleton).write_html(temporary, include_plotlyjs="cdn")
    return png, html


def summary_line(result: LiftResult) -> str:
    """One line: rows lifted per status, files skipped, time and speed."""
    summary = result.summary()
    counts = ", ".join(f"{name} {count}" for name, count in summary["by_status"].items() if count)
    return (
        f"lifted {summary['by_status']['ok']} of {summary['rows']} rows ({counts}); skipped {summary['skipped_files']} "
        f"files; {summary['seconds']:.2f} s, {summary['frames_per_second']:.0f} frames/s, network "
        f"{summary['network_poses_per_second']:.0f} poses/s"
    )


def parse_arguments(argv: list[str] | None = None) -> LiftConfig:
    """Command-line arguments -> ``LiftConfig`` (one flag per field)."""
    parser = CommandParser(
        prog="python -m weakpose_lite.lift", description=__doc__.split("\n\n")[0],
        epilog="The output schema is in the docstring of weakpose_lite/poses_file.py.",
    )  # fmt: skip
    add_arguments(parser, LiftConfig)
    arguments = parser.parse_args(argv)
    if arguments.image_size is not None:
        arguments.image_size = tuple(arguments.image_size)
    return from_arguments(LiftConfig, arguments)


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 on success, 2 with one line on stderr (and no output file) for a bad flag, file or field."""
    return run_command(lambda arguments: lift(parse_arguments(arguments)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
