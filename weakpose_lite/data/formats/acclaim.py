"""CMU motion capture in the Acclaim format: a subject's skeleton (``.asf``), a trial's motion (``.amc``), and
forward kinematics to world joint positions in millimetres.

This module owns the format's conventions (those of the CMU Graphics Lab database, mocap.cs.cmu.edu):
- A skeleton is a tree of bones. Bone b has a rest ``direction`` (unit vector, world frame), a ``length``, a local
  frame C_b given by its ``axis`` Euler angles, and a few rotational degrees of freedom (``dof rx ry rz``) that
  the motion file sets frame by frame. The root has a translation and a rotation (``order TX TY TZ RX RY RZ``).
- Euler angles compose in the order written: ``axis a b c XYZ`` (and ``dof rx ry rz``) is R = Rz(c) Ry(b) Rx(a),
  a rotation about x first. Degrees (``angle deg``, ``:DEGREES``); radians are refused.
- Forward kinematics: the world rotation of bone b is M_b = M_parent C_b R_b C_bᵀ (the root's M = C R Cᵀ), and its
  end lies at start + length · M_b · direction. A joint position here is a **bone's end** (the knee is the end of
  ``lfemur``), and ``"root"`` is the root's position.
- Units: lengths and root translations are in inches × ``length`` (``:units length 0.45``, the CMU convention):
  1 unit = 25.4 / 0.45 mm. The capture world has y up and the floor at y = 0; at rest the person faces +z with their
  left at +x (the kit's body frame, see ``data.synthetic.body``).
- Frames are at 120 Hz (``CMU_FPS``; the AMC file does not store its rate).

Written by hand rather than taken from PyPI: the ASF/AMC readers there are unmaintained single releases
(``asfamc-parser`` 0.0.2, ``pyacclaim`` 0.0.1) and ``fairmotion`` pins torch 1.4 and PyOpenGL 3.1.0; the format is
small, and a reader of our own gives one-line errors naming the file, line and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

CMU_FPS = 120.0
INCH_MM = 25.4
_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True)
class Bone:
    """One ASF bone: rest direction (3,) unit, length in file units, local frame axis (3,) degrees with its Euler
    order (e.g. "XYZ"), and its degrees of freedom in the order the AMC file gives them (e.g. ("rx", "rz"))."""

    name: str
    direction: Tensor
    length: float
    axis: Tensor
    axis_order: str
    dofs: tuple[str, ...]


@dataclass(frozen=True)
class AcclaimSkeleton:
    """A parsed ASF file: its bones by name, each bone's parent ("root" for the root's children), the root's value
    order (e.g. ("tx", "ty", "tz", "rx", "ry", "rz")) and frame, and millimetres per file unit."""

    source: str
    bones: dict[str, Bone]
    parents: dict[str, str]
    root_order: tuple[str, ...]
    root_axis: Tensor
    root_axis_order: str
    mm_per_unit: float

    def channels(self, name: str) -> tuple[str, ...]:
        """The values an AMC line of bone ``name`` (or "root") holds, in order."""
        return self.root_order if name == "root" else self.bones[name].dofs

    def order(self) -> list[str]:
        """Bone names, each after its parent (the order forward kinematics needs)."""
        children: dict[str, list[str]] = {}
        for child, parent in self.parents.items():
            children.setdefault(parent, []).append(child)
        ordered, stack = [], list(reversed(children.get("root", [])))
        while stack:
            name = stack.pop()
            ordered.append(name)
            stack.extend(reversed(children.get(name, [])))
        return ordered


def axis_rotation(axis: str, degrees: Tensor) -> Tensor:
    """Rotations (..., 3, 3) by ``degrees`` (...) about coordinate axis "x", "y" or "z" (right-handed)."""
    radians = torch.deg2rad(degrees)
    cos, sin = torch.cos(radians), torch.sin(radians)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rows = {
        "x": ((one, zero, zero), (zero, cos, -sin), (zero, sin, cos)),
        "y": ((cos, zero, sin), (zero, one, zero), (-sin, zero, cos)),
        "z": ((cos, -sin, zero), (sin, cos, zero), (zero, zero, one)),
    }[axis]
    return torch.stack([torch.stack(row, -1) for row in rows], -2)


def euler_rotation(axes: str, degrees: Tensor) -> Tensor:
    """Angles (..., K) in degrees about ``axes`` (K letters, e.g. "xyz"), applied in that order -> (..., 3, 3):
    "xyz" gives Rz Ry Rx. Zero angles give the identity."""
    rotation = torch.eye(3, dtype=degrees.dtype).expand(*degrees.shape[:-1], 3, 3)
    for k, axis in enumerate(axes.lower()):
        rotation = axis_rotation(axis, degrees[..., k]) @ rotation
    return rotation


# ---------------------------------------------------------------------------------------------------------------
# The skeleton file.


class _Lines:
    """An ASF or AMC file as (line number, words) without comments and blank lines, with one-line errors."""

    def __init__(self, path: Path):
        self.name = path.name
        try:
            text = path.read_bytes().decode("ascii")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path.name}: must be ASCII text, got byte {error.object[error.start]:#x} at "
                             f"{error.start}") from None  # fmt: skip
        self.lines = [(number, line.split("#", 1)[0].split()) for number, line in enumerate(text.splitlines(), 1)]
        self.lines = [(number, words) for number, words in self.lines if words]
        self.position = 0

    def error(self, number: int, message: str) -> ValueError:
        return ValueError(f"{self.name}: line {number}: {message}")

    def numbers(self, number: int, words: list[str], field: str, count: int) -> Tensor:
        """``count`` numbers from ``words`` as float64 (count,), or a one-line error naming ``field``."""
        return torch.tensor(self.floats(number, words, field, count), dtype=torch.float64)

    def floats(self, number: int, words: list[str], field: str, count: int) -> list[float]:
        """``count`` finite numbers from ``words``, or a one-line error naming ``field``."""
        try:
            values = [float(word) for word in words]
        except ValueError:
            values = []
        if len(values) != count or not all(math.isfinite(value) for value in values):
            raise self.error(number, f"{field} must be {count} finite numbers, got {' '.join(words)!r}")
        return values


def read_asf(path: str | Path) -> AcclaimSkeleton:
    """Parse an ASF skeleton file; a malformed one is a one-line ValueError naming the file, line and field."""
    lines = _Lines(Path(path))
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current = None
    for number, words in lines.lines:
        if words[0].startswith(":"):
            current = words[0][1:].lower()
            sections.setdefault(current, []).append((number, words[1:]))
        elif current is not None:
            sections[current].append((number, words))
    for required in ("units", "root", "bonedata", "hierarchy"):
        if required not in sections:
            raise ValueError(f"{lines.name}: must have a :{required} section, found none")
    mm_per_unit = _units(lines, sections["units"])
    root = {words[0].lower(): (number, words[1:]) for number, words in sections["root"][1:] if words}
    root_order, root_axis, root_axis_order = _root(lines, root, sections["root"][0][0])
    bones = _bones(lines, sections["bonedata"])
    parents = _hierarchy(lines, sections["hierarchy"], bones)
    return AcclaimSkeleton(lines.name, bones, parents, root_order, root_axis, root_axis_order, mm_per_unit)


def _units(lines: _Lines, section: list) -> float:
    units = {words[0].lower(): (number, words[1:]) for number, words in section[1:]}
    if units.get("angle", (0, ["deg"]))[1] != ["deg"]:
        number, words = units["angle"]
        raise lines.error(number, f"units angle must be deg, got {' '.join(words)!r}")
    if "length" not in units:
        return INCH_MM  # no multiplier: plain inches
    number, words = units["length"]
    length = float(lines.numbers(number, words, "units length", 1))
    if length <= 0:
        raise lines.error(number, f"units length must be positive, got {length}")
    return INCH_MM / length


def _root(lines: _Lines, root: dict, where: int) -> tuple[tuple[str, ...], Tensor, str]:
    for key in ("order", "axis", "orientation"):
        if key not in root:
            raise lines.error(where, f"root must give its {key}")
    number, order = root["order"]
    order = tuple(word.lower() for word in order)
    if sorted(order) != ["rx", "ry", "rz", "tx", "ty", "tz"]:
        raise lines.error(number, f"root order must list TX TY TZ RX RY RZ once each, got {' '.join(order)!r}")
    axis_order = root["axis"][1][0].upper() if root["axis"][1] else ""
    if sorted(axis_order) != ["X", "Y", "Z"]:
        raise lines.error(root["axis"][0], f"root axis must be an order like XYZ, got {axis_order!r}")
    orientation = lines.numbers(*root["orientation"], "root orientation", 3)
    return order, orientation, axis_order


def _bones(lines: _Lines, section: list) -> dict[str, Bone]:
    bones, fields, start = {}, None, None
    for number, words in section[1:]:
        keyword = words[0].lower()
        if keyword == "begin":
            fields, start = {}, number
        elif keyword == "end":
            if fields is None:
                raise lines.error(number, "bonedata: 'end' without 'begin'")
            bone = _bone(lines, fields, start)
            if bone.name in bones or bone.name == "root":
                raise lines.error(start, f"bone name {bone.name!r} is used twice")
            bones[bone.name], fields = bone, None
        elif fields is not None:
            fields.setdefault(keyword, (number, words[1:]))
    if fields is not None:
        raise lines.error(start, "bonedata: bone has no 'end' (file cut short?)")
    return bones


def _bone(lines: _Lines, fields: dict, start: int) -> Bone:
    for key in ("name", "direction", "length", "axis"):
        if key not in fields:
            raise lines.error(start, f"bone must give its {key}")
    name = fields["name"][1][0] if fields["name"][1] else ""
    number, axis_words = fields["axis"]
    if len(axis_words) != 4 or sorted(axis_words[3].upper()) != ["X", "Y", "Z"]:
        raise lines.error(number, f"bone {name!r} axis must be 3 angles and an order like XYZ, got "
                                  f"{' '.join(axis_words)!r}")  # fmt: skip
    direction = lines.numbers(*fields["direction"], f"bone {name!r} direction", 3)
    if abs(float(direction.norm()) - 1) > 1e-3:
        raise lines.error(fields["direction"][0], f"bone {name!r} direction must be a unit vector, got norm "
                                                  f"{float(direction.norm()):.4f}")  # fmt: skip
    length = float(lines.numbers(*fields["length"], f"bone {name!r} length", 1))
    if length < 0:
        raise lines.error(fields["length"][0], f"bone {name!r} length must be >= 0, got {length}")
    dofs = tuple(word.lower() for word in fields.get("dof", (0, []))[1])
    if any(dof not in ("rx", "ry", "rz") for dof in dofs) or len(set(dofs)) != len(dofs):
        raise lines.error(fields["dof"][0], f"bone {name!r} dof must be among rx ry rz, each once (translations are "
                                            f"not supported), got {' '.join(dofs)!r}")  # fmt: skip
    axis = lines.numbers(number, axis_words[:3], f"bone {name!r} axis", 3)
    return Bone(name, direction / direction.norm(), length, axis, axis_words[3].upper(), dofs)


def _hierarchy(lines: _Lines, section: list, bones: dict[str, Bone]) -> dict[str, str]:
    parents = {}
    for number, words in section[1:]:
        if words[0].lower() in ("begin", "end"):
            continue
        for name in words:
            if name != "root" and name not in bones:
                raise lines.error(number, f"hierarchy names unknown bone {name!r}")
        for child in words[1:]:
            if child in parents or child == "root":
                raise lines.error(number, f"hierarchy gives bone {child!r} a second parent")
            parents[child] = words[0]
    missing = sorted(set(bones) - set(parents))
    if missing:
        raise ValueError(f"{lines.name}: hierarchy must place every bone, missing {', '.join(missing)}")
    reached = set(AcclaimSkeleton(lines.name, bones, parents, (), torch.zeros(3), "XYZ", 1.0).order())
    if reached != set(bones):
        raise ValueError(f"{lines.name}: hierarchy must connect every bone to the root, not "
                         f"{', '.join(sorted(set(bones) - reached))}")  # fmt: skip
    return parents


# ---------------------------------------------------------------------------------------------------------------
# The motion file and forward kinematics.


def read_amc(path: str | Path, skeleton: AcclaimSkeleton) -> dict[str, Tensor]:
    """Parse an AMC motion of ``skeleton`` -> each bone's values (T, len(dofs)) float64 (degrees; the root's also
    translations in file units), bones without dofs absent. Every frame must list every bone with dofs once, with
    as many values as its dofs, and frames must be numbered 1, 2, 3, ...; otherwise a one-line ValueError."""
    lines = _Lines(Path(path))
    moving = ["root"] + [name for name, bone in skeleton.bones.items() if bone.dofs]
    values: dict[str, list[list[float]]] = {name: [] for name in moving}
    frame, frame_line, seen = 0, 0, set()
    for number, words in lines.lines:
        if words[0].startswith(":"):
            if words[0].upper() == ":RADIANS":
                raise lines.error(number, "angles must be in degrees (:DEGREES), got :RADIANS")
            continue
        if len(words) == 1 and words[0].isdigit():
            _check_frame_complete(lines, frame, frame_line, seen, moving)
            if int(words[0]) != frame + 1:
                raise lines.error(number, f"frame number must be {frame + 1}, got {words[0]}")
            frame, frame_line, seen = frame + 1, number, set()
            continue
        name = words[0]
        if frame == 0:
            raise lines.error(number, f"a frame number must come before bone values, got {name!r}")
        if name != "root" and name not in skeleton.bones:
            raise lines.error(number, f"frame {frame} names unknown bone {name!r} (not in {skeleton.source})")
        if name not in values:
            raise lines.error(number, f"frame {frame} gives values to bone {name!r}, which has no dof in "
                                      f"{skeleton.source}")  # fmt: skip
        if name in seen:
            raise lines.error(number, f"frame {frame} lists bone {name!r} twice")
        channels = skeleton.channels(name)
        values[name].append(lines.floats(number, words[1:], f"frame {frame} bone {name!r} ({' '.join(channels)})",
                                         len(channels)))  # fmt: skip
        seen.add(name)
    _check_frame_complete(lines, frame, frame_line, seen, moving)
    if frame == 0:
        raise ValueError(f"{lines.name}: must hold at least one frame, found none")
    return {name: torch.tensor(rows, dtype=torch.float64) for name, rows in values.items()}


def _check_frame_complete(lines: _Lines, frame: int, where: int, seen: set, moving: list[str]) -> None:
    missing = [name for name in moving if name not in seen]
    if frame and missing:
        raise lines.error(where, f"frame {frame} must give every moving bone, missing {', '.join(missing[:5])}"
                                 f"{' ...' if len(missing) > 5 else ''} (file cut short?)")  # fmt: skip


def _dof_rotation(channels: tuple[str, ...], values: Tensor) -> Tensor:
    """The rotation (T, 3, 3) of a bone's (or the root's) values (T, K), rotations in the order listed."""
    rotations = [k for k, channel in enumerate(channels) if channel.startswith("r")]
    axes = "".join(channels[k][1] for k in rotations)
    return euler_rotation(axes, values[:, rotations])


def forward_kinematics(skeleton: AcclaimSkeleton, motion: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """World positions (T, 3) in mm, float64, of the root ("root") and of every bone's end, by bone name; and the
    world rotation (T, 3, 3) of each (M_b, the frame that turns the bone's rest vectors)."""
    root_values = motion["root"]
    frames = root_values.shape[0]
    translation = [skeleton.root_order.index(axis) for axis in ("tx", "ty", "tz")]
    frame = euler_rotation(skeleton.root_axis_order, skeleton.root_axis)
    rotation = {"root": frame @ _dof_rotation(skeleton.root_order, root_values) @ frame.T}
    position = {"root": root_values[:, translation] * skeleton.mm_per_unit}
    for name in skeleton.order():
        bone, parent = skeleton.bones[name], skeleton.parents[name]
        local = euler_rotation(bone.axis_order, bone.axis)
        moved = _dof_rotation(bone.dofs, motion[name]) if bone.dofs else torch.eye(3, dtype=torch.float64)
        rotation[name] = (rotation[parent] @ local @ moved @ local.T).expand(frames, 3, 3)
        offset = bone.length * skeleton.mm_per_unit * bone.direction
        position[name] = position[parent] + rotation[name] @ offset
    return position, rotation
