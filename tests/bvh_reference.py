"""The tests' independent reference for ``acclaim``'s forward kinematics: a reader of Biovision hierarchy (``.bvh``)
files, as the CMU database's community conversions ship it (another tool's kinematics of the same trials), and its
own forward kinematics, sharing no code with ``acclaim``. The kit itself reads ASF/AMC only, so this lives in tests/.

- ``HIERARCHY``: a tree of joints, each with an ``OFFSET`` from its parent (in the parent's frame, file units) and
  ``CHANNELS`` (the root's ``Xposition Yposition Zposition`` and every joint's rotations, e.g. ``Zrotation
  Yrotation Xrotation``); ``End Site`` blocks give the tips of the chains (named ``<parent>_end`` here).
- ``MOTION``: ``Frames: N``, ``Frame Time: dt`` (s), then N lines of as many numbers as there are channels.
- Rotations compose in the order listed (``Zrotation Yrotation Xrotation`` is R = Rz Ry Rx, z outermost), degrees;
  a joint's world rotation is its parent's times its own, and it lies at its parent's position plus the parent's
  world rotation applied to its offset. Units are those of the file (the CMU conversions keep the ASF's units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor


_ROTATIONS = {"Xrotation": "x", "Yrotation": "y", "Zrotation": "z"}
_POSITIONS = ("Xposition", "Yposition", "Zposition")


def axis_rotation(axis: str, degrees: Tensor) -> Tensor:
    """Rotations (T, 3, 3) by ``degrees`` (T,) about "x", "y" or "z", from Rodrigues' formula on the unit axis."""
    unit = torch.zeros(3, dtype=torch.float64)
    unit["xyz".index(axis)] = 1.0
    skew = torch.linalg.cross(torch.eye(3, dtype=torch.float64), unit.expand(3, 3))  # row i: e_i × u, i.e. [u]×
    angle = torch.deg2rad(degrees)[:, None, None]
    return torch.eye(3, dtype=torch.float64) + torch.sin(angle) * skew + (1 - torch.cos(angle)) * (skew @ skew)


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: joint names in file order (end sites as ``<parent>_end``), each joint's parent (None for
    the root), offset (3,) and channel names, the motion (T, channel count) float64 and the frame time in s."""

    source: str
    joints: tuple[str, ...]
    parents: dict[str, str | None]
    offsets: dict[str, Tensor]
    channels: dict[str, tuple[str, ...]]
    values: Tensor
    frame_time: float


def read_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file; a malformed one is a one-line ValueError naming the file, line and field."""
    path = Path(path)
    try:
        lines = path.read_bytes().decode("ascii").splitlines()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name}: must be ASCII text, got byte {error.object[error.start]:#x}") from None
    words = [(number, line.split()) for number, line in enumerate(lines, 1) if line.strip()]
    motion_at = next((k for k, (_, line) in enumerate(words) if line[0] == "MOTION"), None)
    if not words or words[0][1] != ["HIERARCHY"] or motion_at is None:
        raise ValueError(f"{path.name}: must start with HIERARCHY and hold a MOTION section")
    joints, parents, offsets, channels = _hierarchy(path.name, words[1:motion_at])
    values, frame_time = _motion(path.name, words[motion_at + 1 :], sum(len(c) for c in channels.values()))
    return BvhMotion(path.name, tuple(joints), parents, offsets, channels, values, frame_time)


def _hierarchy(name: str, words: list) -> tuple[list[str], dict, dict, dict]:
    joints, parents, offsets, channels, stack = [], {}, {}, {}, []
    pending = None  # the joint declared on the line before its "{"
    for number, line in words:
        keyword = line[0]
        if keyword in ("ROOT", "JOINT") or (keyword == "End" and line[1:] == ["Site"]):
            if (keyword == "ROOT") != (not stack and not joints):
                raise ValueError(f"{name}: line {number}: the file must hold one ROOT, first, got {keyword}")
            pending = f"{stack[-1]}_end" if keyword == "End" else " ".join(line[1:])
            if not pending or pending in parents:
                raise ValueError(f"{name}: line {number}: joint name must be new and non-empty, got {pending!r}")
            parents[pending], channels[pending] = (stack[-1] if stack else None), ()
            joints.append(pending)
        elif keyword == "{":
            if pending is None:
                raise ValueError(f"{name}: line {number}: '{{' must follow a ROOT, JOINT or End Site line")
            stack.append(pending)
            pending = None
        elif keyword == "}":
            if not stack:
                raise ValueError(f"{name}: line {number}: '}}' closes nothing")
            if stack[-1] not in offsets:
                raise ValueError(f"{name}: line {number}: joint {stack[-1]!r} must give its OFFSET")
            stack.pop()
        elif keyword == "OFFSET" and stack:
            offsets[stack[-1]] = torch.tensor(_floats(name, number, line[1:], f"joint {stack[-1]!r} OFFSET", 3),
                                              dtype=torch.float64)  # fmt: skip
        elif keyword == "CHANNELS" and stack:
            channels[stack[-1]] = _channels(name, number, line, stack[-1])
        else:
            raise ValueError(f"{name}: line {number}: unexpected {' '.join(line)[:40]!r} in HIERARCHY")
    if stack or not joints:
        raise ValueError(f"{name}: HIERARCHY must close every '{{' it opens (file cut short?)")
    return joints, parents, offsets, channels


def _channels(name: str, number: int, line: list[str], joint: str) -> tuple[str, ...]:
    listed = tuple(line[2:])
    known = all(channel in _ROTATIONS or channel in _POSITIONS for channel in listed)
    if not line[1].isdigit() or int(line[1]) != len(listed) or not known or len(set(listed)) != len(listed):
        raise ValueError(f"{name}: line {number}: joint {joint!r} CHANNELS must be a count then that many distinct "
                         f"X/Y/Z position or rotation names, got {' '.join(line[1:])!r}")  # fmt: skip
    return listed


def _motion(name: str, words: list, channel_count: int) -> tuple[Tensor, float]:
    if len(words) < 2 or words[0][1][:1] != ["Frames:"] or words[1][1][:2] != ["Frame", "Time:"]:
        raise ValueError(f"{name}: MOTION must start with 'Frames: N' and 'Frame Time: dt'")
    frames = int(_floats(name, words[0][0], words[0][1][1:], "Frames", 1)[0])
    frame_time = _floats(name, words[1][0], words[1][1][2:], "Frame Time", 1)[0]
    if frame_time <= 0:
        raise ValueError(f"{name}: line {words[1][0]}: Frame Time must be positive, got {frame_time}")
    rows = words[2:]
    if len(rows) != frames:
        raise ValueError(f"{name}: MOTION must hold the {frames} frames its header announces, got {len(rows)} "
                         f"(file cut short?)")  # fmt: skip
    values = [_floats(name, number, line, f"frame {k + 1}", channel_count) for k, (number, line) in enumerate(rows)]
    return torch.tensor(values, dtype=torch.float64).reshape(frames, channel_count), frame_time


def _floats(name: str, number: int, words: list[str], field: str, count: int) -> list[float]:
    try:
        values = [float(word) for word in words]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(value) for value in values):
        shown = " ".join(words)
        raise ValueError(f"{name}: line {number}: {field} must be {count} finite numbers, got {len(words)} values "
                         f"{shown[:60]!r}{'...' if len(shown) > 60 else ''}")  # fmt: skip
    return values


def bvh_forward_kinematics(motion: BvhMotion) -> dict[str, Tensor]:
    """World positions (T, 3) of every joint and end site, by name, in the file's units, float64."""
    frames = motion.values.shape[0]
    rotation, position, column = {}, {}, 0
    for joint in motion.joints:
        listed = motion.channels[joint]
        values = motion.values[:, column : column + len(listed)]
        column += len(listed)
        local = torch.eye(3, dtype=torch.float64).expand(frames, 3, 3)
        for k, channel in enumerate(listed):
            if channel in _ROTATIONS:
                local = local @ axis_rotation(_ROTATIONS[channel], values[:, k])
        parent = motion.parents[joint]
        moved = torch.zeros(frames, 3, dtype=torch.float64)
        for k, channel in enumerate(listed):
            if channel in _POSITIONS:
                moved[:, _POSITIONS.index(channel)] = values[:, k]
        if parent is None:
            rotation[joint], position[joint] = local, moved + motion.offsets[joint]
        else:
            rotation[joint] = rotation[parent] @ local
            position[joint] = position[parent] + (rotation[parent] @ (motion.offsets[joint] + moved)[..., None])[..., 0]
    return position
