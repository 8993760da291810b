"""Writing a dataset's sequence in the real on-disk formats (Panoptic calibration and coco19 3D, OpenPose JSON).

The synthetic rig's sequences then look exactly like a downloaded Panoptic sequence with an OpenPose run beside it:
``data.build.build_sequence`` and ``python -m weakpose_lite.lift`` read them as they would read real data.

Layout (that of ``data_scripts/README.md``)::

    <root>/<sequence>/calibration_<sequence>.json
    <root>/<sequence>/hdPose3d_stage1_coco19/body3DScene_<8-digit frame>.json      (when the groundtruth is written)
    <root>/<sequence>/openpose/hd_00_XX/hd_00_XX_<12-digit frame>_keypoints.json
"""

from __future__ import annotations

from pathlib import Path

import torch

from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.formats.openpose import OPENPOSE_FOLDER, write_openpose_views
from weakpose_lite.data.formats.panoptic import (
    Calibration,
    body_file,
    calibration_file,
    write_bodies,
    write_calibration,
)
from weakpose_lite.progress import progress_bar
from weakpose_lite.skeleton import BODY


def hd_camera_names(count: int) -> tuple[str, ...]:
    """Panoptic's HD camera names for ``count`` cameras: "00_00", "00_01", ..."""
    return tuple(f"00_{node:02d}" for node in range(count))


def write_sequence(
    dataset: MultiViewDataset,
    sequence: str,
    root: str | Path,
    with_groundtruth: bool = True,
    image_size: tuple[int, int] = (1920, 1080),
) -> Path:
    """Write one sequence of ``dataset`` (body skeleton) as ``<root>/<sequence>/`` with OpenPose output; -> that folder."""
    if dataset.skeleton_name != BODY.name:
        raise ValueError(f"write_sequence writes body datasets, got skeleton {dataset.skeleton_name!r}")
    folder = Path(root) / sequence
    frames = dataset.select_sequences([sequence])
    cameras = dataset.cameras[dataset.sequence_names.index(sequence)]
    names = hd_camera_names(dataset.num_views)
    sizes = torch.tensor([image_size] * dataset.num_views)
    write_calibration(calibration_file(folder), Calibration(cameras, names, sizes))
    write_openpose_views(
        folder / OPENPOSE_FOLDER, names, frames.frame_ids, frames.keypoints_2d, frames.confidence, frames.view_mask
    )
    if with_groundtruth:
        for frame, points in progress_bar(zip(frames.frame_ids.tolist(), frames.points_3d), total=frames.num_frames,
                                  desc="3D groundtruth", leave=False):  # fmt: skip
            confidence = torch.isfinite(points).all(-1).double()
            write_bodies(body_file(folder, frame), points[None], confidence[None], ids=[0])
    return folder

