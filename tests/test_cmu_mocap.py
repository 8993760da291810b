"""CMU motion capture as a motion source: the ASF/AMC reader and its forward kinematics against the BVH conversion of
the same trial and against known geometry, the COCO-18 body built from it, the splits it feeds, and the download
script against a local HTTP server. The real trials are read where they are staged (``conftest.REAL_DATA``)."""

import shutil
import sys
from pathlib import Path

import pytest
import torch

from bvh_reference import bvh_forward_kinematics, read_bvh
from conftest import REAL_DATA
from test_data_scripts import FakePanoptic
from weakpose_lite.data.formats.acclaim import CMU_FPS, INCH_MM, forward_kinematics, read_amc, read_asf
from weakpose_lite.data.synthetic import SyntheticConfig, config_hash, make_synthetic_splits
from weakpose_lite.data.synthetic.captured import body_joints, captured_pieces, resample, standing_height
from weakpose_lite.reproduce import ReproduceConfig
from weakpose_lite.skeleton import COCO18

CMU = REAL_DATA / "cmu_mocap_fairmotion"
needs_cmu = pytest.mark.skipif(not (CMU / "01_01.amc").exists(), reason=f"real CMU trials not staged at {CMU}")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data_scripts"))
import download_cmu_mocap  # noqa: E402

# A two-bone arm: "upper" along +x from the root, "lower" along +x from its end, rotating about z.
ARM_ASF = """:version 1.10
:name arm
:units
  mass 1.0
  length 0.45
  angle deg
:root
  order TX TY TZ RX RY RZ
  axis XYZ
  position 0 0 0
  orientation 0 0 0
:bonedata
  begin
    id 1
    name upper
    direction 1 0 0
    length 2
    axis 0 0 0 XYZ
  end
  begin
    id 2
    name lower
    direction 1 0 0
    length 1
    axis 0 0 90 XYZ
    dof rx
  end
:hierarchy
  begin
    root upper
    upper lower
  end
"""
UNIT_MM = INCH_MM / 0.45


def _arm(tmp_path: Path, motion: str) -> tuple:
    (tmp_path / "arm.asf").write_text(ARM_ASF)
    (tmp_path / "arm.amc").write_text(motion)
    skeleton = read_asf(tmp_path / "arm.asf")
    return skeleton, read_amc(tmp_path / "arm.amc", skeleton)


def test_forward_kinematics_of_a_two_bone_arm_is_its_known_geometry(tmp_path):
    """The lower bone's axis frame is turned 90° about z, so its rx dof turns about the world's y axis: +90 (angles
    compose in the file's order, R = C Rx Cᵀ) swings the forearm from +x to -z."""
    skeleton, motion = _arm(tmp_path, ":FULLY-SPECIFIED\n:DEGREES\n1\nroot 1 2 3 0 0 0\nlower 0\n2\nroot 1 2 3 0 0 0\nlower 90\n")
    position, rotation = forward_kinematics(skeleton, motion)
    root = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * UNIT_MM
    elbow = root + torch.tensor([2.0, 0, 0], dtype=torch.float64) * UNIT_MM
    torch.testing.assert_close(position["upper"], torch.stack([elbow, elbow]))
    torch.testing.assert_close(position["lower"][0], elbow + torch.tensor([UNIT_MM, 0, 0], dtype=torch.float64))
    torch.testing.assert_close(position["lower"][1], elbow + torch.tensor([0, 0, -UNIT_MM], dtype=torch.float64))
    assert torch.allclose(torch.linalg.det(rotation["lower"]), torch.ones(2, dtype=torch.float64))


@needs_cmu
def test_forward_kinematics_matches_the_bvh_conversion_of_the_same_trial():
    """fairmotion's BVH of trial 01_01 (another tool's kinematics, 5 decimals, a rest pose as its frame 0) puts every
    joint where our ASF/AMC kinematics does, except that its Neck and shoulders start at the thorax's start (offset
    0 0 0): above the thorax the two differ by exactly the thorax bone, turned with it."""
    skeleton = read_asf(CMU / "01.asf")
    position, rotation = forward_kinematics(skeleton, read_amc(CMU / "01_01.amc", skeleton))
    bvh = bvh_forward_kinematics(read_bvh(CMU / "01_01.bvh"))
    below = {"lfemur": "LeftLeg", "ltibia": "LeftFoot", "rfemur": "RightLeg", "rtibia": "RightFoot",
             "lowerback": "Spine", "upperback": "Spine1", "lhipjoint": "LeftUpLeg"}  # fmt: skip
    above = {"lowerneck": "Neck1", "upperneck": "Head", "lclavicle": "LeftArm", "rclavicle": "RightArm",
             "lhumerus": "LeftForeArm", "rradius": "RightHand"}  # fmt: skip
    thorax = skeleton.bones["thorax"]
    thorax_vector = rotation["thorax"] @ (thorax.length * skeleton.mm_per_unit * thorax.direction)
    assert position["root"].shape[0] == bvh["Hips"].shape[0] - 1 == 2751
    for ours, theirs in below.items():
        assert (position[ours] - bvh[theirs][1:] * skeleton.mm_per_unit).norm(dim=-1).max() < 0.02, ours
    for ours, theirs in above.items():
        shifted = position[ours] - thorax_vector
        assert (shifted - bvh[theirs][1:] * skeleton.mm_per_unit).norm(dim=-1).max() < 0.02, ours
    assert 100 < thorax_vector.norm(dim=-1).min() < 130  # the 11.7 cm that the conversion drops


@needs_cmu
@pytest.mark.parametrize("subject, trial", [("01", "01_01"), ("11", "11_01")])
def test_the_coco_body_of_a_real_trial_has_constant_bones_and_a_human_size(subject, trial):
    skeleton = read_asf(CMU / f"{subject}.asf")
    joints = body_joints(skeleton, read_amc(CMU / f"{trial}.amc", skeleton))
    assert joints.shape[1:] == (18, 3) and joints.dtype == torch.float64 and torch.isfinite(joints).all()
    for first, second in [("left_knee", "left_ankle"), ("right_shoulder", "right_elbow"), ("nose", "left_ear"),
                          ("left_hip", "left_knee"), ("left_shoulder", "right_shoulder")]:  # fmt: skip
        length = (joints[:, COCO18.index(first)] - joints[:, COCO18.index(second)]).norm(dim=-1)
        assert length.max() - length.min() < 1e-6, (first, second)
    assert 1400 < standing_height(skeleton) < 2000
    shin = (joints[:, COCO18.index("left_knee")] - joints[:, COCO18.index("left_ankle")]).norm(dim=-1)[0]
    assert 300 < shin < 550
    assert joints[..., 1].min() > -50  # the capture's floor is y = 0: nothing far below it


def test_resampling_takes_the_nearest_captured_frame():
    points = torch.arange(13, dtype=torch.float64)[:, None]
    resampled, indices = resample(points, fps=30.0, source_fps=CMU_FPS)
    assert indices.tolist() == [0, 4, 8, 12] and resampled[:, 0].tolist() == [0, 4, 8, 12]
    assert resample(points, fps=29.97)[1].tolist() == [0, 4, 8]  # a 4th frame, at 12.01, would lie past the capture


@pytest.mark.parametrize("motion, line, expected", [
    ("1\nroot 0 0 0 0 0 0\n", 1, "frame 1 must give every moving bone, missing lower"),
    ("1\nroot 0 0 0 0 0 0\nlower 1 2\n", 3, "frame 1 bone 'lower' (rx) must be 1 finite numbers"),
    ("1\nroot 0 0 0 0 0 0\nlower nan\n", 3, "must be 1 finite numbers"),
    ("1\nroot 0 0 0 0 0 0\nlower 1\n3\nroot 0 0 0 0 0 0\nlower 1\n", 4, "frame number must be 2, got 3"),
    (":RADIANS\n1\nroot 0 0 0 0 0 0\nlower 1\n", 1, "angles must be in degrees"),
    ("1\nroot 0 0 0 0 0 0\nlower 1\nupper 2\n", 4, "has no dof"),
])  # fmt: skip
def test_a_malformed_motion_is_one_line_naming_the_file_and_the_line(tmp_path, motion, line, expected):
    with pytest.raises(ValueError) as raised:
        _arm(tmp_path, motion)
    message = str(raised.value)
    assert message.startswith(f"arm.amc: line {line}: ") and expected in message and "\n" not in message


@pytest.mark.parametrize("old, new, expected", [
    ("direction 1 0 0\n    length 1", "direction 2 0 0\n    length 1", "line 23: bone 'lower' direction must be a unit vector"),
    ("upper lower", "upper ghost", "hierarchy names unknown bone 'ghost'"),
    ("angle deg", "angle rad", "units angle must be deg"),
    ("dof rx", "dof tx", "dof must be among rx ry rz"),
])  # fmt: skip
def test_a_malformed_skeleton_is_one_line_naming_the_file_and_the_field(tmp_path, old, new, expected):
    (tmp_path / "arm.asf").write_text(ARM_ASF.replace(old, new))
    with pytest.raises(ValueError) as raised:
        read_asf(tmp_path / "arm.asf")
    assert str(raised.value).startswith("arm.asf: ") and expected in str(raised.value) and "\n" not in str(raised.value)


@needs_cmu
def test_a_split_by_time_keeps_each_trials_frames_in_order_and_apart():
    """Two subjects are too few for a split by subject; by time, each trial feeds train, then validation, then test."""
    fractions = (0.8, 0.1, 0.1)
    pieces = captured_pieces(CMU, 30.0, 120, "time", fractions, seed=0, floor_centre=torch.zeros(2))
    for trial, count in [("01_01", 688), ("11_01", 150)]:  # 2,751 and 597 frames at 120 Hz -> 30 Hz
        mine = [piece for piece in pieces if piece.name.startswith(f"cmu_{trial}_")]
        frames = {split: torch.cat([p.frame_ids for p in mine if p.split == split]) for split in ("train", "validation", "test")}
        assert torch.cat(list(frames.values())).tolist() == list(range(count))
        assert len(frames["train"]) == round(0.8 * count) and len(frames["test"]) == count - round(0.9 * count)
        assert all(piece.points_3d.shape == (len(piece.frame_ids), 18, 3) and len(piece.frame_ids) <= 120 for piece in mine)


@needs_cmu
def test_synthetic_config_films_captured_motion_and_refuses_what_it_cannot_do(tmp_path):
    motion = f"cmu:{CMU}"
    splits = make_synthetic_splits(SyntheticConfig.tiny(motion=motion, motion_split="time"))
    for split, dataset in splits.items():
        assert dataset.metadata["source"] == "cmu_mocap" and dataset.subject_names == ("cmu_01", "cmu_11"), split
        assert dataset.keypoints_2d.shape[:2] == dataset.view_mask.shape and dataset.view_mask.sum(1).min() >= 2
    hip_height = -splits["train"].points_3d[:, COCO18.index("left_hip"), 1]
    assert 600 < hip_height.median() < 1200  # standing on the dome's floor, y down
    with pytest.raises(ValueError, match=r"a split by subject needs at least 3 subjects, found 2 \(01, 11\)"):
        make_synthetic_splits(SyntheticConfig.tiny(motion=motion))
    with pytest.raises(ValueError, match="skeleton must be body with captured motion"):
        SyntheticConfig.tiny(motion=motion, skeleton="body_hands")
    with pytest.raises(ValueError, match="motion must be 'synthetic' or 'cmu:<folder"):
        SyntheticConfig.tiny(motion="mocap")
    copied = tmp_path / "trials"
    copied.mkdir()
    for name in ("11.asf", "11_01.amc"):
        shutil.copy(CMU / name, copied / name)
    before = config_hash(SyntheticConfig.tiny(motion=f"cmu:{copied}"))
    (copied / "11_01.amc").write_text((copied / "11_01.amc").read_text().replace("root ", "root  ", 1))
    assert config_hash(SyntheticConfig.tiny(motion=f"cmu:{copied}")) != before  # a changed trial is a new dataset


ASF_BYTES = ARM_ASF.encode()
AMC_BYTES = b":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\nlower 0\n"


@pytest.fixture
def cmu_server():
    fake = FakePanoptic({"/02/02.asf": ASF_BYTES, "/02/02_01.amc": AMC_BYTES, "/02/02_03.amc": b"<html>404</html>\n"})
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


def _fetch(server, out: Path, *trials: str) -> int:
    return download_cmu_mocap.main(["--trials", *trials, "--out", str(out), "--base-url", server.base_url,
                                    "--backoff", "0", "--retries", "1", "--timeout", "5"])  # fmt: skip


def test_download_fetches_the_skeleton_once_and_the_trials_flat(cmu_server, tmp_path, capsys):
    cmu_server.failures["/02/02_01.amc"] = ["cut"]
    assert _fetch(cmu_server, tmp_path, "02_01") == 0
    assert (tmp_path / "02.asf").read_bytes() == ASF_BYTES and (tmp_path / "02_01.amc").read_bytes() == AMC_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02.asf", "02.asf.complete", "02_01.amc", "02_01.amc.complete"]
    assert ("/02/02_01.amc", f"bytes={len(AMC_BYTES) // 2}-") in cmu_server.requests  # resumed after the cut
    assert _fetch(cmu_server, tmp_path, "02_01") == 0 and "already complete" in capsys.readouterr().out


def test_download_refuses_a_file_that_is_not_what_its_name_says(cmu_server, tmp_path, capsys):
    assert _fetch(cmu_server, tmp_path, "02_03") == 1
    error = capsys.readouterr().err
    assert "02/02_03.amc: FAILED: 02_03.amc: must hold a line ':degrees'" in error
    assert not (tmp_path / "02_03.amc").exists() and not (tmp_path / "02_03.amc.part").exists()


def test_download_refuses_a_file_over_the_size_limit_and_bad_names(cmu_server, tmp_path, capsys):
    arguments = ["--trials", "02_01", "--out", str(tmp_path), "--base-url", cmu_server.base_url, "--max-bytes", "100"]
    assert download_cmu_mocap.main(arguments) == 1
    assert "02.asf: must be at most 100 bytes (--max-bytes), got" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        download_cmu_mocap.parse_arguments(["--trials", "2-1"])
    assert exited.value.code == 2 and "a trial must be <subject>_<trial> in digits" in capsys.readouterr().err


def test_download_dry_run_prints_the_database_addresses(tmp_path, capsys):
    assert download_cmu_mocap.main(["--dry-run", "--trials", "02_01", "02_03", "35_01", "--out", str(tmp_path)]) == 0
    urls = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    base = "http://mocap.cs.cmu.edu/subjects"
    assert urls == [f"{base}/02/02.asf", f"{base}/02/02_01.amc", f"{base}/02/02_03.amc", f"{base}/35/35.asf",
                    f"{base}/35/35_01.amc"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_the_default_trial_list_spans_enough_subjects_for_a_split_by_subject():
    trials = download_cmu_mocap.read_trial_list(download_cmu_mocap.DEFAULT_LIST)
    subjects = {trial.split("_")[0] for trial in trials}
    assert len(trials) == len(set(trials)) and len(subjects) >= 10


def test_the_main_job_refuses_a_bad_motion_before_any_work():
    with pytest.raises(ValueError, match="motion must be 'synthetic' or 'cmu:<folder"):
        ReproduceConfig(motion="mocap")
    with pytest.raises(ValueError, match="motion_split must be one of subject, time, got 'x'"):
        ReproduceConfig(motion_split="x")
    with pytest.raises(ValueError, match="takes neither --dataset nor --hands"):
        ReproduceConfig(motion="cmu:trials", hands=True)


def test_a_synthetic_motion_config_keeps_the_dictionary_and_so_the_data_names_it_had_before_captured_motion():
    """The lesson checkpoints name their training data by a fingerprint of this dictionary."""
    assert "motion" not in SyntheticConfig().to_dict() and "motion_split" not in SyntheticConfig().to_dict()
    captured = SyntheticConfig(motion="cmu:trials", motion_split="time").to_dict()
    assert captured["motion"] == "cmu:trials" and captured["motion_split"] == "time"
