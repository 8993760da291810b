"""One gate per kind of value, the same verdict on every path that produces it.

Camera sets: ``validation.check_cameras``, called by the calibration reader, the dataset loader and the synthetic rig;
``triangulate`` marks joints seen only from one centre invalid. Detections: ``validation.check_detections``, called
by the OpenPose reader and the dataset loader. JSON that Python itself cannot parse is one line naming the file.
The property tests draw camera sets with one defect (or none) and check that every path gives the verdict that
defect calls for, with an independent reference for each rule (numpy, written here).
"""

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weakpose_lite import cameras as cam
from weakpose_lite import losses, reproduce
from weakpose_lite.cameras import Camera, look_at_rotation, project
from weakpose_lite.checkpoints import load_checkpoint, write_checkpoint
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.formats import validation
from weakpose_lite.data.formats.openpose import read_openpose
from weakpose_lite.data.formats.panoptic import Calibration, read_calibration, write_calibration
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.data.synthetic.rig import panoptic_like_rig
from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.shapes import check_tensor
from weakpose_lite.skeleton import BODY, to_relative
from weakpose_lite.train import TrainConfig, config_from_dict, load_model, resolve_device, train, with_fields
from weakpose_lite.triangulation import triangulate

C, J = 4, 18
IMAGE = (1920, 1080)
DEFECTS = ("none", "scaled_R", "reflected_R", "zero_focal", "far_centre", "one_centre", "folding_lens", "nan_t")
# What each defect's refusal must say (an independent statement of the rule, not a copy of the message).
REFUSALS = {
    "scaled_R": "must be orthonormal",
    "reflected_R": "must be a rotation (det +1)",
    "zero_focal": "must be invertible with positive focal lengths",
    "far_centre": "within 100000 mm of the world origin",
    "one_centre": "must stand at two distinct centres or more",
    "folding_lens": "must be a lens invertible over the 1920x1080 image",
    "nan_t": "must be finite",
}


def _ring(seed: int, radius_mm: float) -> Camera:
    """C float64 cameras on a circle of ``radius_mm`` about the origin, 1.5 m up, looking at the origin."""
    generator = torch.Generator().manual_seed(seed)
    angle = torch.arange(C, dtype=torch.float64) * 2 * torch.pi / C + torch.rand(C, generator=generator, dtype=torch.float64)
    centre = torch.stack([radius_mm * angle.cos(), torch.full((C,), -1500.0, dtype=torch.float64), radius_mm * angle.sin()], -1)
    R = look_at_rotation(centre, torch.zeros(C, 3, dtype=torch.float64), torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64))
    K = torch.tensor([[1400.0, 0, 960], [0, 1400, 540], [0, 0, 1]], dtype=torch.float64).expand(C, 3, 3).clone()
    dist = torch.tensor([-0.2, 0.1, 0, 0, 0], dtype=torch.float64).expand(C, 5).clone()
    return Camera(K, R, -(R @ centre[..., None])[..., 0], dist)


def _with_defect(cameras: Camera, defect: str, which: int) -> Camera:
    """``cameras`` (C,) with ``defect`` put into camera ``which`` (every camera for "one_centre")."""
    K, R, t, dist = (p.clone() for p in (cameras.K, cameras.R, cameras.t, cameras.dist))
    if defect == "scaled_R":
        R[which] *= 1.01
    elif defect == "reflected_R":
        R[which, 2] *= -1
    elif defect == "zero_focal":
        K[which, 1, 1] = 0
    elif defect == "far_centre":
        t[which] = R[which] @ torch.tensor([0.0, 0.0, -1e30], dtype=torch.float64)  # centre 1e30 mm away
    elif defect == "one_centre":
        t = torch.zeros_like(t)  # every centre at the origin, each camera still turned its own way
    elif defect == "folding_lens":
        dist[which] = torch.tensor([50.0, 0, 0, 0, 0])
    elif defect == "nan_t":
        t[which, 1] = float("nan")
    return Camera(K, R, t, dist)


def _expected_verdict(cameras: Camera) -> str | None:
    """The defect a float64 reference finds in ``cameras`` (C,), in the gate's order, or None: written with numpy
    from the rules' definitions (SVD for the rotation, pairwise distances for the centres)."""
    K, R, t, dist = (p.numpy() for p in (cameras.K, cameras.R, cameras.t, cameras.dist))
    if not all(np.isfinite(p).all() for p in (K, R, t, dist)):
        return "nan_t"
    if (np.diagonal(K, axis1=1, axis2=2)[:, :2] <= 0).any():
        return "zero_focal"
    singular_values = np.linalg.svd(R, compute_uv=False)
    if np.abs(singular_values - 1).max() > 1e-6:
        return "scaled_R"
    if (np.linalg.det(R) < 0).any():
        return "reflected_R"
    centres = np.einsum("cji,cj->ci", R, -t)
    if (np.linalg.norm(centres, axis=1) > 1e5).any():
        return "far_centre"
    if (np.abs(dist[:, 0]) > 1).any():  # every drawn lens has k1 = -0.2 except a folding one
        return "folding_lens"
    if np.linalg.norm(centres[:, None] - centres[None], axis=-1).max() < 1.0:
        return "one_centre"
    return None


def _dataset(cameras: Camera) -> MultiViewDataset:
    """Two frames of a standing point cloud seen by ``cameras`` (C,), one sequence, as float32 (the kit's dtype)."""
    points = torch.randn(2, J, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 300
    with torch.no_grad():
        pixels = project(points[:, None], cameras.repeat(2)) if torch.isfinite(cameras.t).all() else None
    keypoints = torch.nan_to_num(pixels, nan=0.0).clamp(-5e4, 5e4) if pixels is not None else torch.zeros(2, C, J, 2)
    index = torch.zeros(2, dtype=torch.long)
    return MultiViewDataset(
        skeleton_name="body", keypoints_2d=keypoints.float(), confidence=torch.ones(2, C, J),
        view_mask=torch.ones(2, C, dtype=torch.bool), cameras=cameras.to(torch.float32)[None], sequence_index=index,
        subject_index=index, frame_ids=torch.arange(2), sequence_names=("seq",), subject_names=("someone",),
        points_3d=points.float(), metadata={},
    )  # fmt: skip


def _verdict(call) -> str | None:
    """None when ``call()`` accepts, else its one-line error message."""
    try:
        call()
    except ValueError as error:
        assert "\n" not in str(error)
        return str(error)
    return None


def _paths(cameras: Camera, folder: Path) -> dict:
    """Every path that produces cameras, each as a call: the calibration file, the dataset file, the gate itself."""
    names = tuple(f"00_{c:02d}" for c in range(C))

    def through_calibration():
        path = folder / "calibration_x.json"
        write_calibration(path, Calibration(cameras, names, torch.tensor([IMAGE] * C)))
        read_calibration(path)

    def through_dataset_file():
        _dataset(cameras).save(folder / "x.npz")
        MultiViewDataset.load(folder / "x.npz")

    return {
        "calibration": through_calibration,
        "dataset": through_dataset_file,
        "gate": lambda: validation.check_cameras(cameras[None], "x", ["the set"], image_sizes=torch.tensor([[IMAGE] * C])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(defect=st.sampled_from(DEFECTS), which=st.integers(0, C - 1), seed=st.integers(0, 2**16),
       radius=st.floats(1500.0, 6000.0))  # fmt: skip
def test_every_path_gives_a_camera_set_the_verdict_its_defect_calls_for(tmp_path, defect, which, seed, radius):
    cameras = _with_defect(_ring(seed, radius), defect, which)
    expected = _expected_verdict(cameras)
    assert expected == (None if defect == "none" else defect)
    for path, call in _paths(cameras, tmp_path).items():
        message = _verdict(call)
        if expected is None:
            assert message is None, (path, message)
        else:
            assert message is not None and REFUSALS[expected] in message, (path, message)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), count=st.integers(2, 31))
def test_every_synthetic_rig_passes_the_gate_it_calls(seed, count):
    rig = panoptic_like_rig(torch.Generator().manual_seed(seed), count)
    validation.check_cameras(rig[None], "rig", ["rig"], image_sizes=torch.tensor([[IMAGE] * count]))


def test_triangulation_from_one_centre_marks_every_joint_invalid():
    cameras = _with_defect(_ring(0, 3000.0), "one_centre", 0)
    dataset = _dataset(_ring(0, 3000.0))  # consistent detections, then read as if filmed from one centre
    result = triangulate(dataset.keypoints_2d.double(), dataset.confidence.double(), dataset.view_mask, cameras)
    assert not result.valid.any() and (result.points == 0).all()
    spread = triangulate(dataset.keypoints_2d.double(), dataset.confidence.double(), dataset.view_mask, _ring(0, 3000.0))
    assert spread.valid.all()
    torch.testing.assert_close(spread.points, dataset.points_3d.double(), atol=0.5, rtol=0)


def _openpose(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "x_000000000001_keypoints.json"
    path.write_text('{"people": [{"pose_keypoints_2d": ' + body + "}]}")
    return path


@pytest.mark.parametrize(
    "confidence, expected",
    [("1e30", "pose_keypoints_2d[2] must be in [0, 1], got 1e+30"), ("1e10", "pose_keypoints_2d[2] must be in [0, 1], "
     "got 1e+10"), ("-0.5", "pose_keypoints_2d[2] must be in [0, 1], got -0.5"), ("1.0", None)],
    ids=["1e30", "1e10", "negative", "one"],
)  # fmt: skip
def test_openpose_confidence_outside_zero_one_is_refused(tmp_path, confidence, expected):
    values = [f"10.0, 20.0, {confidence}"] + ["0, 0, 0"] * (J - 1)
    path = _openpose(tmp_path, "[" + ", ".join(values) + "]")
    message = _verdict(lambda: read_openpose(path))
    assert (message is None) if expected is None else (message.startswith(path.name) and expected in message)


@pytest.mark.parametrize(
    "body, expected",
    [("[" + "9" * 5000 + "]", "unreadable JSON (Exceeds the limit (4300 digits) for integer string conversion"),
     ("[" * 100_000 + "]" * 100_000, "unreadable JSON (maximum recursion depth exceeded"),
     ("[" + ", ".join(["9" * 4000] + ["1"] * (3 * J - 1)) + "]", "pose_keypoints_2d[0] must be finite in float32 "
      "(|x| ≤ 3.4e38), got an integer of 4000 digits"),
     ("[" * 900 + "]" * 900, "pose_keypoints_2d has an unknown layout")],
    ids=["5000-digit integer", "100000 deep", "4000-digit integer", "900 deep"],
)  # fmt: skip
def test_json_that_python_cannot_parse_is_one_line_naming_the_file(tmp_path, body, expected):
    path = _openpose(tmp_path, body)
    message = _verdict(lambda: read_openpose(path))
    assert message is not None and message.startswith(f"{path.name}: ") and expected in message, message


def test_lists_nested_too_deep_to_walk_are_refused_naming_the_field():
    nested: list = []
    for _ in range(5000):  # what a JSON parser with a deeper stack than Python's would hand over
        nested = [nested]
    with pytest.raises(ValueError, match=r"^c.json: cameras\[0\].K must be 3x3, got lists nested too deeply"):
        validation.number_array(nested, "c.json", "cameras[0].K", (3, 3))


def test_dataset_detections_pass_the_same_gate_as_openpose_files(tmp_path):
    dataset = _dataset(_ring(0, 3000.0))
    for name, index, value, expected in [
        ("confidence", (1, 2, 3), 1e30, "confidence[1, 2, 3] must be in [0, 1], got 1e+30"),
        ("keypoints_2d", (0, 1, 2, 1), 3e5, "keypoints_2d[0, 1, 2, 1] must be within ±100000 px, got 300000"),
    ]:
        changed = getattr(dataset, name).clone()
        changed[index] = value
        MultiViewDataset(**{**dataset.__dict__, name: changed}).save(tmp_path / "bad.npz")
        message = _verdict(lambda: MultiViewDataset.load(tmp_path / "bad.npz"))
        assert message is not None and message.startswith("bad.npz: ") and expected in message, message


# ---- model statistics: one gate (NormalisationStats.check) for training and checkpoints -------------------------
RANGES = {"mean_2d": (-10.0, 10.0), "std_2d": (1e-6, 10.0), "mean_3d": (-3000.0, 3000.0), "std_3d": (1e-6, 3000.0)}


def _plausible_statistics() -> dict[str, torch.Tensor]:
    return {"mean_2d": torch.zeros(J, 2), "std_2d": torch.full((J, 2), 0.1), "mean_3d": torch.zeros(J, 3),
            "std_3d": torch.full((J, 3), 200.0)}  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(RANGES)), joint=st.integers(0, J - 1),
       value=st.one_of(st.floats(width=32), st.sampled_from([1e-30, 1e30, 1e-6, 10.0, 3000.0, -3000.0, 0.0])))  # fmt: skip
def test_statistics_are_refused_by_training_and_checkpoints_exactly_outside_a_persons_range(tmp_path, name, joint, value):
    statistics = _plausible_statistics()
    statistics[name][joint, 0] = value
    stored = np.float32(value)  # as the network's float32 buffer holds it
    low, high = (np.float32(bound) for bound in RANGES[name])
    plausible = bool(np.isfinite(stored) and low <= stored <= high)
    gate = _verdict(lambda: NormalisationStats(**statistics).check("x"))
    write_checkpoint(tmp_path / "c.pt", {"model": statistics})
    checkpoint = _verdict(lambda: load_checkpoint(tmp_path / "c.pt"))
    assert (gate is None) == plausible and (checkpoint is None) == plausible, (gate, checkpoint)
    if not plausible:
        assert f"{name}[{joint}, 0] must be in [" in gate and f"model.{name}[{joint}, 0] must be in [" in checkpoint


def test_training_refuses_statistics_no_person_has_such_as_from_a_focal_length_in_the_wrong_unit(tmp_path):
    splits = make_synthetic_splits(SyntheticConfig.tiny(num_subjects=3, sequences_per_subject=1, frames_per_sequence=10,
                                                        num_cameras=6, min_views=4))  # fmt: skip
    cameras = splits["train"].cameras
    K = cameras.K.clone()
    K[..., 0, 0], K[..., 1, 1] = 1.4, 1.4  # metres where pixels belong: a camera the gate cannot tell from a fisheye
    wrong = dataclasses.replace(splits["train"], cameras=Camera(K, cameras.R, cameras.t, torch.zeros_like(cameras.dist)))
    config = TrainConfig(mode="weak", model=ModelConfig(hidden=8), epochs=1, max_frames_per_epoch=8)
    with pytest.raises(ValueError, match=r"^training data \(body\): the network's normalisation statistics: "
                                         r"(mean|std)_2d\[\d+, \d\] must be in \[.*\] normalised image units"):
        train(config, wrong, splits["validation"])


# ---- settings: the config dataclasses check their own fields, whatever filled them --------------------------------
@pytest.mark.parametrize(
    "field, value, expected",
    [("min_visible_joints", 0, "TrainConfig.min_visible_joints must be at least 1, got 0"),
     ("min_visible_joints", -3, "TrainConfig.min_visible_joints must be at least 1, got -3"),
     ("max_frames_per_epoch", -5, "TrainConfig.max_frames_per_epoch must be at least 1, got -5"),
     ("epochs", 2.5, "TrainConfig.epochs must be int, got float 2.5"),
     ("epochs", "2", "TrainConfig.epochs must be int, got str '2'"),
     ("learning_rate", "fast", "TrainConfig.learning_rate must be a finite float, got str 'fast'"),
     ("lam", "0.5", "LossConfig.lam must be a finite float, got str '0.5'"),
     ("hidden", True, "ModelConfig.hidden must be int, got bool True"),
     ("device", "gpu0", "TrainConfig.device must be auto or a PyTorch device"),
     ("seed", None, "TrainConfig.seed must be int, got NoneType None")],
)  # fmt: skip
def test_a_bad_setting_is_refused_the_same_way_from_every_path(field, value, expected, tmp_path):
    saved = {**dataclasses.asdict(TrainConfig()), field: value}  # a checkpoint's flat or nested config, one field bad
    paths = {
        "python and papermill": lambda: with_fields(TrainConfig(), **{field: value}),
        "checkpoint config": lambda: config_from_dict(saved),
        "study --set": lambda: with_fields(TrainConfig(mode="strong"), **{field: value}),
    }
    for path, call in paths.items():
        message = _verdict(call)
        assert message is not None and expected in message, (path, message)


def test_a_checkpoint_whose_config_is_bad_is_one_line_naming_it(tmp_path):
    network = LiftingNetwork(ModelConfig(hidden=8), BODY, NormalisationStats(**_plausible_statistics()))
    for field, value, expected in [("min_visible_joints", 0, "TrainConfig.min_visible_joints must be at least 1"),
                                   ("min_visible_joints", "6", "TrainConfig.min_visible_joints must be int, got str")]:
        config = {**dataclasses.asdict(TrainConfig(model=ModelConfig(hidden=8))), field: value}
        write_checkpoint(tmp_path / "bad.pt", {"config": config, "skeleton": "body", "best_model": network.state_dict()})
        message = _verdict(lambda: load_model(tmp_path / "bad.pt"))
        assert message is not None and str(tmp_path / "bad.pt") in message and expected in message, message


def test_a_device_this_pytorch_does_not_have_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ValueError, match=r"^device 'cuda' is not available: this PyTorch .* sees 0 cuda device\(s\); "
                                         r"use --device cpu or auto$"):  # fmt: skip
        resolve_device("cuda")
    with pytest.raises(ValueError, match="device 'cuda:3' is not available"):
        resolve_device("cuda:3")
    assert resolve_device("cpu") == torch.device("cpu")


# ---- reproduce: every flag honoured or refused before any work ---------------------------------------------------
def _body_dataset_folder(folder: Path) -> Path:
    splits = make_synthetic_splits(SyntheticConfig.tiny(num_subjects=3, sequences_per_subject=1, frames_per_sequence=4,
                                                        num_cameras=4, min_views=2))  # fmt: skip
    for split, dataset in splits.items():
        dataset.save(folder / f"{split}.npz")
    return folder


@pytest.mark.parametrize(
    "flags, expected",
    [(["--skeleton", "body_hands", "--dataset", "DATASET"], "its datasets are of skeleton body, not --skeleton body_hands"),
     (["--skeleton", "body_hands", "--hands"], "--hands adds the synthetic body + hands pair"),
     (["--hands", "--dataset", "DATASET"], "--hands adds the synthetic body + hands pair"),
     (["--max-frames-per-epoch", "-5"], "TrainConfig.max_frames_per_epoch must be at least 1, got -5"),
     (["--min-visible-joints", "0"], "TrainConfig.min_visible_joints must be at least 1, got 0"),
     (["--patience", "0"], "unrecognized arguments: --patience 0"),
     (["--device", "cuda"], "device 'cuda' is not available"),
     (["--device", "gpu"], "TrainConfig.device must be auto or a PyTorch device")],
    ids=["skeleton vs dataset", "body_hands with hands", "hands with dataset", "max frames -5", "min visible 0",
         "patience", "cuda on a CPU-only torch", "unknown device"],
)  # fmt: skip
def test_reproduce_refuses_a_flag_it_would_ignore_in_one_line_before_any_work(flags, expected, tmp_path, capsys,
                                                                             monkeypatch):  # fmt: skip
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    dataset = _body_dataset_folder(tmp_path / "dataset") if "DATASET" in flags else None
    flags = [str(dataset) if flag == "DATASET" else flag for flag in flags]
    try:
        status = reproduce.main([*flags, "--output", str(tmp_path / "run")])
    except SystemExit as exit:  # argparse's own refusals exit, as on the command line
        status = exit.code
    assert status == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and expected in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()  # no data generated, nothing written


# ---- the study script: the same front door as the other commands ------------------------------------------------
STUDY = Path(__file__).resolve().parents[1] / "studies" / "units_lambda.py"


def _study_module():
    """studies/units_lambda.py as a module (it imports studies/executors.py as its neighbour, as when run)."""
    sys.path.insert(0, str(STUDY.parent))
    spec = importlib.util.spec_from_file_location("units_lambda_gates", STUDY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "setting, expected",
    [("epochs=2.5", "TrainConfig.epochs must be int, got float 2.5"),
     ("epochs=two", "TrainConfig.epochs must be int, got str 'two'"),
     ("hidden=-4", "ModelConfig: hidden must be ≥ 1"),
     ("min_visible_joints=0", "TrainConfig.min_visible_joints must be at least 1, got 0"),
     ("dropout=null", "ModelConfig.dropout must be a finite float, got NoneType None"),
     ("huber_delta=1e999", "LossConfig.huber_delta must be a finite float, got float inf"),
     ("max_frames_per_epoch=-5", "TrainConfig.max_frames_per_epoch must be at least 1, got -5"),
     ("device=gpu", "TrainConfig.device must be auto or a PyTorch device"),
     ("mode=strong", "mode is set by the study for each run"),
     ("seed=3", "seed is set by the study for each run"),
     ("lam=0.1", "lam is set by the study for each run"),
     ("multiview_unit=mm", "multiview_unit is set by the study for each run"),
     ("patience=3", "'patience' is not a field of TrainConfig")],
)  # fmt: skip
def test_a_bad_study_setting_is_one_line_and_status_2_before_any_data(setting, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arguments = ["--set", setting, "--output", str(tmp_path / "runs"), "--run", "--synthetic-size", "tiny"]
    try:
        status = _study_module().main(arguments)
    except SystemExit as exit:  # argparse's refusals exit, as on the command line
        status = exit.code
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and error.startswith("error: ") and expected in error, error
    assert list(tmp_path.iterdir()) == []  # no data generated, no run recorded


def test_the_study_command_line_answers_a_bad_setting_as_every_command_does(tmp_path):
    command = [sys.executable, str(STUDY), "--set", "epochs=2.5", "--run", "--output", str(tmp_path / "runs")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert (done.returncode, done.stderr) == (2, "error: TrainConfig.epochs must be int, got float 2.5\n")
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


# ---- tensor arguments: one shape gate (shapes.check_tensor) before any arithmetic --------------------------------
def _bad_tensor_calls() -> dict:
    """Each call: a public function given a wrong shape or dtype, and the start of the error it must give."""
    cameras = Camera(torch.eye(3).expand(2, 3, 3), torch.eye(3).expand(2, 3, 3), torch.zeros(2, 3), torch.zeros(2, 5))
    network = LiftingNetwork(ModelConfig(hidden=8), BODY, NormalisationStats(**_plausible_statistics())).eval()
    seen = torch.ones(2, J, dtype=torch.bool)
    return {
        "project": (lambda: project(torch.zeros(2, J, 2), cameras), "project: points must be floating point (..., 3), got (2, 18, 2)"),
        "project ints": (lambda: project(torch.zeros(2, J, 3, dtype=torch.long), cameras),
                         "project: points must be floating point (..., 3), got int64"),
        "world_to_camera": (lambda: cam.world_to_camera(torch.zeros(J, 2), torch.eye(3), torch.zeros(3)),
                            "world_to_camera: points must be floating point (..., 3), got (18, 2)"),
        "undistort": (lambda: cam.undistort(torch.zeros(5, 2), torch.zeros(4)), "undistort: dist must be floating point (..., 5), got (4,)"),
        "distort": (lambda: cam.distort(torch.zeros(5, 3), torch.zeros(5)), "distort: points must be floating point (..., 2), got (5, 3)"),
        "pixels_to_normalised": (lambda: cam.pixels_to_normalised(torch.zeros(J, 3), torch.eye(3)),
                                 "pixels_to_normalised: pixels must be floating point (..., 2), got (18, 3)"),
        "network joints": (lambda: network(torch.zeros(4, 17, 2), torch.ones(4, 17, dtype=torch.bool)),
                           "LiftingNetwork: relative_2d must be floating point (N, J, 2) (N=4, J=18), got (4, 17, 2)"),
        "network mask": (lambda: network(torch.zeros(4, J, 2), torch.ones(4, J)),
                         "LiftingNetwork: visible must be bool (N, J), got float32"),
        "average_pose": (lambda: losses.average_pose(torch.zeros(2, 3, J, 3), torch.ones(2, 4, dtype=torch.bool)),
                         "average_pose: view_mask must be bool (F, C) (F=2, C=3), got (2, 4)"),
        "multiview loss": (lambda: losses.multiview_consistency_loss(torch.zeros(2, 3, J, 3), torch.zeros(2, 17, 3),
                                                                      torch.ones(2, 3, dtype=torch.bool)),
                           "multiview_consistency_loss: average must be floating point (F, J, 3) (F=2, J=18), got (2, 17, 3)"),
        "supervised_loss": (lambda: losses.supervised_loss(torch.zeros(2, J, 3), torch.zeros(J, 3), seen),
                            "supervised_loss: target must be floating point (2, 18, 3), got (18, 3)"),  # it used to broadcast
        "reprojection_loss": (lambda: losses.reprojection_loss(torch.zeros(2, J, 2), torch.zeros(2, J, 2), seen[:, :3]),
                              "reprojection_loss: visible must be bool (2, 18), got (2, 3)"),
        "huber": (lambda: losses.huber(torch.zeros(3, dtype=torch.long)), "huber: distance must be floating point"),
        "to_relative": (lambda: to_relative(torch.zeros(J, 3), 40), "to_relative: root must be a joint index in [0, 18)"),
        "statistics from 2D": (lambda: NormalisationStats.from_2d(torch.zeros(5, J, 2), seen[:1].expand(5, J)[:, :17],
                                                                  torch.ones(5)),
                               "NormalisationStats.from_2d: visible must be bool (N, J) (N=5, J=18), got (5, 17)"),
        "statistics from 3D": (lambda: NormalisationStats.from_3d(torch.zeros(5, J, 2), seen[:1].expand(5, J),
                                                                  torch.zeros(5, J, 2), seen[:1].expand(5, J)),
                               "NormalisationStats.from_3d: relative_3d must be floating point (M, J, 3)"),  # it used to broadcast
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_bad_tensor_calls()))
def test_a_wrong_shape_or_dtype_is_a_one_line_error_naming_function_and_argument(case):
    call, expected = _bad_tensor_calls()[case]
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value).startswith(expected) and "\n" not in str(raised.value), str(raised.value)


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=5), spec=st.lists(st.sampled_from([1, 2, 3, "A", "B"]), max_size=4),
       leading=st.booleans())  # fmt: skip
def test_the_shape_gate_accepts_exactly_the_shapes_its_spec_describes(shape, spec, leading):
    """Reference: a plain reading of the spec, letters bound left to right."""
    full = (("...",) if leading else ()) + tuple(spec)
    tail = shape[len(shape) - len(spec):] if len(shape) >= len(spec) else None
    fits = tail is not None and (leading or len(shape) == len(spec))
    bound: dict = {}
    for letter, size in zip(spec, tail or []):
        fits = fits and (size == letter if isinstance(letter, int) else bound.setdefault(letter, size) == size)
    message = _verdict(lambda: check_tensor("f", "x", torch.zeros(shape), full))
    assert (message is None) == fits, (shape, full, message)
