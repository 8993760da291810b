"""Synthetic motion: smooth sequences of joint angles for a subject of ``body``, blended from motion primitives.

A sequence blends a few parametric motion primitives (walking, raising the arms, reaching, squatting, bending,
turning, ...) with random amplitudes, frequencies and phases, each faded in and out by a slow envelope, on top of
the subject's rest pose and a small idle sway. Every term is a smooth function of time, so poses are smooth at 30 fps.
A primitive maps time (T,) in s to joint-angle offsets (T, D) in degrees, its amplitudes drawn from the generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weakpose_lite.data.synthetic.body import (
    DEGREES_OF_FREEDOM,
    SIDE_SIGN,
    SIDES,
    Motion,
    Subject,
    angle_vector,
    clamp_to_limits,
)
from weakpose_lite.data.synthetic.seeding import choice, uniform


def _wave(time: Tensor, frequency: Tensor | float, phase: Tensor | float) -> Tensor:
    """sin(2π f t + φ): a smooth oscillation in [−1, 1]."""
    return torch.sin(2 * math.pi * frequency * time + phase)


def _rise(time: Tensor, frequency: Tensor | float, phase: Tensor | float) -> Tensor:
    """(1 − cos(2π f t + φ)) / 2: a smooth go-and-return in [0, 1], for movements away from rest and back."""
    return 0.5 * (1 - torch.cos(2 * math.pi * frequency * time + phase))


def arm_elevation_angles(azimuth: Tensor, elevation: Tensor) -> tuple[Tensor, Tensor]:
    """Raise direction azimuth (...) (0 forward, 90 sideways) and elevation (...) from hanging, degrees ->
    (shoulder flexion, abduction) (...) in degrees that point the upper arm there.

    With R = Rx(−flexion) Rz(abduction) the arm points along (sin a, −cos a cos f, cos a sin f); equating it to
    (sin β sin e, −cos e, cos β sin e) gives sin a = sin β sin e and tan f = cos β sin e / cos e.
    """
    beta, e = torch.deg2rad(azimuth), torch.deg2rad(elevation)
    abduction = torch.asin((torch.sin(beta) * torch.sin(e)).clamp(-1, 1))
    flexion = torch.atan2(torch.cos(beta) * torch.sin(e), torch.cos(e))
    return torch.rad2deg(flexion), torch.rad2deg(abduction)


def _arms_raise(time: Tensor, generator: torch.Generator) -> Tensor:
    frequency, elevation = uniform(generator, 0.12, 0.45), uniform(generator, 60, 175)
    azimuth, phase = uniform(generator, 0, 90), uniform(generator, 0, 2 * math.pi)
    mode = choice(generator, 3)  # both arms together, alternating, or one arm only
    phases = (phase, phase + math.pi if mode == 1 else phase)
    amounts = (1.0, 0.0 if mode == 2 else 1.0)
    offsets = {}
    for side, side_phase, amount in zip(SIDES, phases, amounts):
        raised = amount * _rise(time, frequency, side_phase)
        side_azimuth = (azimuth + uniform(generator, -15, 15)).clamp(0, 90)
        flexion, abduction = arm_elevation_angles(side_azimuth, elevation * raised)
        offsets |= {f"{side}_shoulder_flex": flexion, f"{side}_shoulder_abduct": abduction}
        offsets[f"{side}_elbow_flex"] = -10 * raised
    return angle_vector(offsets, time.shape)


def _reach(time: Tensor, generator: torch.Generator) -> Tensor:
    side = SIDES[choice(generator, 2)]
    sign = SIDE_SIGN[side]
    frequency, phase = uniform(generator, 0.1, 0.35), uniform(generator, 0, 2 * math.pi)
    reach = _rise(time, frequency, phase)
    offsets = {
        f"{side}_shoulder_flex": uniform(generator, 40, 110) * reach,
        f"{side}_shoulder_abduct": uniform(generator, -10, 50) * reach,
        f"{side}_elbow_flex": -30 * reach,
        "spine_flex": uniform(generator, 5, 30) * reach,
        "spine_twist": -sign * uniform(generator, 0, 25) * reach,
        "pelvis_tilt": uniform(generator, 0, 20) * reach,
        "head_pitch": uniform(generator, 0, 20) * reach,
    }
    return angle_vector(offsets, time.shape)


def _elbow_curls(time: Tensor, generator: torch.Generator) -> Tensor:
    frequency, amplitude = uniform(generator, 0.2, 0.6), uniform(generator, 40, 120)
    alternate = bool(choice(generator, 2))
    phase = uniform(generator, 0, 2 * math.pi)
    offsets = {}
    for k, side in enumerate(SIDES):
        curl = _rise(time, frequency, phase + (math.pi if alternate and k else 0.0))
        offsets |= {f"{side}_elbow_flex": amplitude * curl, f"{side}_forearm_supinate": 40 * curl}
        offsets[f"{side}_shoulder_flex"] = uniform(generator, 0, 40) * curl
    return angle_vector(offsets, time.shape)


def _squat(time: Tensor, generator: torch.Generator) -> Tensor:
    """Knees bend by up to 130°; the thigh turns forward by 70 % of that and the trunk leans to keep balance."""
    depth = uniform(generator, 0.3, 1.0) * _rise(time, uniform(generator, 0.1, 0.3), uniform(generator, 0, 6.3))
    knee, lean = 130 * depth, uniform(generator, 15, 40) * depth
    arms_forward = uniform(generator, 0, 90) * depth
    offsets = {"pelvis_tilt": lean}
    for side in SIDES:
        offsets |= {f"{side}_knee_flex": knee, f"{side}_hip_flex": 0.7 * knee + lean}
        offsets[f"{side}_shoulder_flex"] = arms_forward
    return angle_vector(offsets, time.shape)


def _bend(time: Tensor, generator: torch.Generator) -> Tensor:
    """Bending forward from the hips (thighs stay upright) with the arms hanging toward the floor."""
    bend = _rise(time, uniform(generator, 0.08, 0.25), uniform(generator, 0, 6.3))
    tilt, spine = uniform(generator, 30, 85) * bend, uniform(generator, 5, 35) * bend
    knees = uniform(generator, 0, 25) * bend
    offsets = {"pelvis_tilt": tilt, "spine_flex": spine, "head_pitch": -0.3 * tilt}
    for side in SIDES:
        offsets |= {f"{side}_hip_flex": tilt + 0.5 * knees, f"{side}_knee_flex": knees}
        offsets[f"{side}_shoulder_flex"] = 0.9 * (tilt + spine)
    return angle_vector(offsets, time.shape)


def _side_bend(time: Tensor, generator: torch.Generator) -> Tensor:
    bend = _wave(time, uniform(generator, 0.08, 0.3), uniform(generator, 0, 6.3))
    lateral, stretch = uniform(generator, 10, 35), uniform(generator, 0, 150)
    offsets = {"spine_lateral": lateral * bend, "head_roll": 0.3 * lateral * bend}
    # the arm on the outside of the bend reaches over the head
    offsets["right_shoulder_abduct"] = stretch * bend.clamp(min=0)
    offsets["left_shoulder_abduct"] = stretch * (-bend).clamp(min=0)
    return angle_vector(offsets, time.shape)


def _torso_twist(time: Tensor, generator: torch.Generator) -> Tensor:
    twist = _wave(time, uniform(generator, 0.1, 0.4), uniform(generator, 0, 6.3))
    amplitude, arms_out = uniform(generator, 15, 45), uniform(generator, 0, 80)
    offsets = {"spine_twist": amplitude * twist, "head_yaw": 0.5 * amplitude * twist}
    for side in SIDES:
        offsets |= {f"{side}_shoulder_abduct": arms_out, f"{side}_elbow_flex": uniform(generator, 0, 60)}
    return angle_vector(offsets, time.shape)


def _knee_lifts(time: Tensor, generator: torch.Generator) -> Tensor:
    frequency, phase = uniform(generator, 0.3, 0.8), uniform(generator, 0, 6.3)
    height = uniform(generator, 35, 95)
    offsets = {}
    for k, side in enumerate(SIDES):
        lift = _rise(time, frequency, phase + k * math.pi) ** 2  # one leg at a time, the other one stands
        offsets |= {f"{side}_hip_flex": height * lift, f"{side}_knee_flex": 1.2 * height * lift}
        offsets[f"{SIDES[1 - k]}_shoulder_flex"] = 0.4 * height * lift
        offsets[f"{side}_elbow_flex"] = 30.0
    return angle_vector(offsets, time.shape)


def _leg_swing(time: Tensor, generator: torch.Generator) -> Tensor:
    side = SIDES[choice(generator, 2)]
    swing = _wave(time, uniform(generator, 0.2, 0.6), uniform(generator, 0, 6.3))
    offsets = {f"{side}_knee_flex": 10 * swing.abs()}
    if choice(generator, 2):
        offsets[f"{side}_hip_abduct"] = uniform(generator, 15, 40) * swing.clamp(min=0)
    else:
        offsets[f"{side}_hip_flex"] = uniform(generator, 20, 60) * swing
    offsets["spine_lateral"] = -SIDE_SIGN[side] * 5 * swing.abs()
    return angle_vector(offsets, time.shape)


def _look_around(time: Tensor, generator: torch.Generator) -> Tensor:
    offsets = {}
    for dof, largest in (("head_yaw", 70), ("head_pitch", 30), ("head_roll", 15)):
        amplitude = uniform(generator, 0, largest)
        offsets[dof] = amplitude * _wave(time, uniform(generator, 0.05, 0.3), uniform(generator, 0, 2 * math.pi))
    return angle_vector(offsets, time.shape)


def _idle_sway(time: Tensor, generator: torch.Generator) -> Tensor:
    """A few degrees of slow independent oscillation on every joint: nobody stands perfectly still."""
    count = len(DEGREES_OF_FREEDOM)
    amplitude = uniform(generator, 1, 6, count)
    frequency, phase = uniform(generator, 0.05, 0.4, count), uniform(generator, 0, 2 * math.pi, count)
    return amplitude * torch.sin(2 * math.pi * frequency * time[:, None] + phase)


PRIMITIVES = {
    "arms_raise": _arms_raise, "reach": _reach, "elbow_curls": _elbow_curls, "squat": _squat, "bend": _bend,
    "side_bend": _side_bend, "torso_twist": _torso_twist, "knee_lifts": _knee_lifts, "leg_swing": _leg_swing,
}  # fmt: skip


def _envelope(time: Tensor, generator: torch.Generator) -> Tensor:
    """How much of a primitive is on at each time (T,) in [0, 1]: always on, or faded in and out over 5–15 s."""
    if choice(generator, 3) == 0:
        return torch.ones_like(time)
    return _rise(time, 1 / uniform(generator, 5, 15), uniform(generator, 0, 2 * math.pi))


def _gait(distance: Tensor, speed: Tensor, stride: float, generator: torch.Generator) -> Tensor:
    """Walking angles (T, D) from the distance walked (T,) mm and the speed (T,) mm/s: hips swing ±20°, knees flex
    in swing, arms counter-swing; every amplitude scales with speed (about 1 m/s gives the full swing), so a person
    who stops walking stands on straight legs."""
    phase = 2 * math.pi * distance / stride
    amount = uniform(generator, 0.7, 1.2) * (speed / 1000.0).clamp(max=1.1)
    offsets = {}
    for k, side in enumerate(SIDES):
        leg = phase + k * math.pi
        swing_knee = ((1 + torch.cos(leg + 0.4)) / 2) ** 3  # peaks early in swing, when the thigh moves forward
        offsets |= {f"{side}_hip_flex": amount * 20 * torch.sin(leg), f"{side}_knee_flex": amount * 55 * swing_knee}
        offsets[f"{side}_shoulder_flex"] = -amount * 15 * torch.sin(leg)
    offsets["spine_twist"] = amount * 5 * torch.sin(phase)
    return angle_vector(offsets, distance.shape)


def _floor_path(time: Tensor, fps: float, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Where the pelvis is on the floor: a circle around the dome centre walked at a varying speed.

    Returns (x, z) positions (T, 2) mm, the heading yaw (T,) rad along the circle, the distance walked (T,) mm and
    the speed (T,) mm/s (zero for the 60 % of sequences where the person stays on one spot).
    """
    # the range-of-motion subjects stay near the middle of the dome, where every camera sees most of the body
    radius = uniform(generator, 150, 600)
    centre = uniform(generator, -150, 150, 2)
    walking = bool(torch.rand((), generator=generator) < 0.4)
    speed = uniform(generator, 300, 1100) * _envelope(time, generator) if walking else torch.zeros_like(time)
    direction = 1.0 if choice(generator, 2) else -1.0
    distance = torch.cumsum(speed, 0) / fps
    angle = uniform(generator, 0, 2 * math.pi) + direction * distance / radius
    position = centre + radius * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    tangent = direction * torch.stack([-torch.sin(angle), torch.cos(angle)], -1)
    return position, torch.atan2(tangent[:, 0], tangent[:, 1]), distance, speed


def _turning(time: Tensor, generator: torch.Generator) -> Tensor:
    """Extra yaw (T,) rad: none, a slow turn back and forth of up to ±150°, or steady spinning on the spot."""
    kind = choice(generator, 3)
    if kind == 0:
        return torch.zeros_like(time)
    if kind == 1:
        return math.radians(float(uniform(generator, 30, 150))) * _wave(time, uniform(generator, 0.03, 0.15), 0.0)
    return uniform(generator, -0.8, 0.8) * time


def _finger_curl(time: Tensor, generator: torch.Generator) -> Tensor:
    """Finger curl (T, 2, 5) in [0, 1]: a relaxed rest curl, grips that close all fingers together, small jitter."""
    rest = uniform(generator, 0.1, 0.35, 2, 5)
    time = time[:, None, None]
    grip_frequency, grip_phase = uniform(generator, 0.05, 0.4, 2, 1), uniform(generator, 0, 2 * math.pi, 2, 1)
    grip = uniform(generator, 0.0, 0.8, 2, 1) * _rise(time, grip_frequency, grip_phase)
    jitter = 0.1 * _wave(time, uniform(generator, 0.1, 0.5, 2, 5), uniform(generator, 0, 2 * math.pi, 2, 5))
    return (rest + grip + jitter).clamp(0, 1)


def sample_motion(subject: Subject, num_frames: int, fps: float, generator: torch.Generator) -> Motion:
    """A random smooth sequence of ``num_frames`` frames at ``fps`` for ``subject``: a blend of 2–4 primitives."""
    time = torch.arange(num_frames, dtype=torch.float32) / fps
    names = list(PRIMITIVES)
    count = 2 + choice(generator, 3)
    chosen = [names[k] for k in torch.randperm(len(names), generator=generator)[:count].tolist()]
    angles = subject.rest_pose + _idle_sway(time, generator) + _look_around(time, generator)
    for name in chosen:
        angles = angles + subject.vigour * _envelope(time, generator)[:, None] * PRIMITIVES[name](time, generator)
    position, heading, distance, speed = _floor_path(time, fps, generator)
    angles = angles + _gait(distance, speed, 0.75 * subject.height, generator)
    yaw = heading + _turning(time, generator)
    return Motion(clamp_to_limits(angles), _finger_curl(time, generator), position, yaw)


# ---------------------------------------------------------------------------------------------------------------
# Forward kinematics.
