"""Lifting users' detections: single view (camera frame), calibrated views (world), dataset files, bad inputs, output.

One tiny strongly-supervised model is trained per session on a small synthetic rig; the references are the network
applied by hand to inputs normalised with OpenCV or by a pinhole division, a plain loop over views in float64, and the
synthetic groundtruth.
"""

import dataclasses
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from weakpose_lite import inference, lift, poses_file
from weakpose_lite.cameras import Camera, pinhole_intrinsics, project
from weakpose_lite.checkpoints import VERSION as CHECKPOINT_VERSION
from weakpose_lite.data.formats.openpose import write_openpose, write_openpose_views
from weakpose_lite.data.formats.panoptic import Calibration, write_calibration
from weakpose_lite.data.formats.user_inputs import frame_numbers
from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits
from weakpose_lite.model import LiftingNetwork, ModelConfig, NormalisationStats
from weakpose_lite.skeleton import BODY, BODY_HANDS, COCO18, plausible_poses
from weakpose_lite.train import TrainConfig, load_model, train
from weakpose_lite.views import make_views

BAD_INPUTS = Path(__file__).parent / "data" / "bad_inputs"
TEST_FRAMES = 8
IMAGE_SIZE = (1920, 1080)


@pytest.fixture(scope="session")
def splits():
    """A small rig (12 cameras) with one subject per split, 40 frames each."""
    config = SyntheticConfig.tiny(num_subjects=3, sequences_per_subject=1, frames_per_sequence=40, num_cameras=12,
                                  min_views=8)  # fmt: skip
    return make_synthetic_splits(config)


@pytest.fixture(scope="session")
def checkpoint(splits, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    # 20 quick epochs: trained just enough that every pose it lifts is a person's (4 gave metre-long bones)
    config = TrainConfig(mode="strong", model=ModelConfig(hidden=64, dropout=0.1), epochs=20, max_frames_per_epoch=200,
                         learning_rate=2e-3)  # fmt: skip
    train(config, splits["train"], splits["validation"], output=folder)
    return folder / "best.pt"


@pytest.fixture(scope="session")
def model(checkpoint) -> LiftingNetwork:
    return load_model(checkpoint)[0]


@pytest.fixture(scope="session")
def test_set(splits):
    return splits["test"].subset(torch.arange(TEST_FRAMES))


@pytest.fixture(scope="session")
def names(test_set) -> tuple[str, ...]:
    return tuple(f"00_{c + 1:02d}" for c in range(test_set.num_views))


@pytest.fixture(scope="session")
def calibration(test_set, names, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("calibration") / "calibration_synthetic.json"
    sizes = torch.tensor([IMAGE_SIZE] * len(names))
    write_calibration(path, Calibration(test_set.cameras[0], names, sizes))
    return path


@pytest.fixture(scope="session")
def views_folder(test_set, names, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("views")
    detections = (test_set.keypoints_2d, test_set.confidence, test_set.view_mask)
    write_openpose_views(root, names, test_set.frame_ids, *detections)
    return root


def _single_view_folder(folder: Path, keypoints, confidence, model_pose: str = "COCO") -> Path:
    """Frames (F, J, 2), (F, J) of one camera as OpenPose files ``view_<frame>_keypoints.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in range(len(keypoints)):
        write_openpose(folder / f"view_{frame:012d}_keypoints.json", keypoints[frame][None], confidence[frame][None],
                       model_pose)  # fmt: skip
    return folder


def _run(checkpoint, source, output, *options) -> dict:
    """Lift through the command line's entry point and read the JSON output back."""
    assert lift.main([str(checkpoint), str(source), "-o", str(output), *map(str, options)]) == 0
    return json.loads(Path(output).read_text())


def _poses(result: dict) -> np.ndarray:
    """Rows' poses (N, J, 3), NaN for rows without one."""
    joints = len(result["joint_names"])
    missing = np.full((joints, 3), np.nan)
    return np.array([missing if row["pose"] is None else row["pose"] for row in result["frames"]])


def _network(model, normalised: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """h_θ applied by hand: normalised coordinates (N, J, 2), visible (N, J) -> (N, J, 3)."""
    relative = normalised - normalised[:, BODY.root : BODY.root + 1]
    relative = np.where(visible[..., None], relative, 0.0)
    with torch.no_grad():
        return model(torch.tensor(relative, dtype=torch.float32), torch.tensor(visible)).double().numpy()


def test_help_describes_the_inputs():
    done = subprocess.run([sys.executable, "-m", "weakpose_lite.lift", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for option in ("--focal", "--image-size", "--calibration", "--view", "--plot", "--output"):
        assert option in done.stdout


def test_single_view_with_calibration_matches_the_network_on_opencv_undistorted_inputs(
    model, checkpoint, test_set, calibration, tmp_path
):
    view = 3
    folder = _single_view_folder(tmp_path / "view", test_set.keypoints_2d[:, view], test_set.confidence[:, view])
    result = _run(checkpoint, folder, tmp_path / "poses.json", "--calibration", calibration, "--view", "00_04")
    camera = test_set.cameras[0, view].to(torch.float64)
    pixels = test_set.keypoints_2d[:, view].double().numpy().reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14)
    normalised = cv2.undistortPoints(pixels, camera.K.numpy(), camera.dist.numpy(), criteria=criteria)
    visible = (test_set.confidence[:, view] > 0).numpy()
    expected = _network(model, normalised.reshape(TEST_FRAMES, -1, 2), visible)
    usable = visible[:, BODY.root] & (visible.sum(-1) >= 6)
    assert result["coordinate_frame"] == "camera"
    assert [row["status"] == "ok" for row in result["frames"]] == usable.tolist()
    assert usable.any()
    assert np.abs(_poses(result)[usable] - expected[usable]).max() < 0.05  # mm
    assert [row["frame"] for row in result["frames"]] == list(range(TEST_FRAMES))


def test_focal_and_image_size_give_a_centred_pinhole_camera(model, checkpoint, test_set, tmp_path):
    focal, (width, height) = 1200.0, IMAGE_SIZE
    K = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=torch.float64)
    rig = test_set.cameras[0, 0].to(torch.float64)
    pinhole = Camera(K, rig.R, rig.t, torch.zeros(5, dtype=torch.float64))
    pixels = project(test_set.points_3d.double(), pinhole)
    confidence = test_set.confidence[:, 0]
    folder = _single_view_folder(tmp_path / "view", pixels.float(), confidence)
    result = _run(checkpoint, folder, tmp_path / "poses.json", "--focal", focal, "--image-size", width, height)
    visible = (confidence > 0).numpy()
    normalised = (pixels.numpy() - np.array([width / 2, height / 2])) / focal
    expected = _network(model, normalised, visible)
    lifted = np.array([row["status"] == "ok" for row in result["frames"]])
    assert lifted.any()
    assert np.abs(_poses(result)[lifted] - expected[lifted]).max() < 0.05


def test_world_poses_are_within_the_views_error_plus_the_root_triangulation_error(
    model, checkpoint, test_set, views_folder, calibration, tmp_path
):
    result = _run(checkpoint, views_folder, tmp_path / "poses.json", "--calibration", calibration)
    assert result["coordinate_frame"] == "world"
    lifted = np.array([row["status"] == "ok" for row in result["frames"]])
    assert lifted.all()
    world = torch.tensor(_poses(result))
    truth = test_set.points_3d.double()
    world_mpjpe = (world - truth).norm(dim=-1).mean().item()
    camera_mpjpe = inference.evaluate(model, make_views(test_set, with_targets=False), test_set.skeleton)["mpjpe_mm"]
    root_error = (world[:, BODY.root] - truth[:, BODY.root]).norm(dim=-1).mean().item()
    assert root_error < 30  # mm: triangulated from a dozen noisy views
    assert world_mpjpe <= camera_mpjpe + root_error + 5.0


def test_world_poses_and_spread_match_a_plain_loop_over_views(
    model, checkpoint, test_set, views_folder, calibration, tmp_path
):
    result = _run(checkpoint, views_folder, tmp_path / "poses.json", "--calibration", calibration)
    tensors = make_views(test_set, with_targets=False)
    for f, row in enumerate(result["frames"]):
        views = torch.nonzero(tensors.usable[f]).squeeze(1).tolist()
        world = []
        for c in views:
            with torch.no_grad():
                camera_frame = model(tensors.relative_2d[f, c][None], tensors.visible[f, c][None])[0].double()
            world.append(tensors.cameras.R[f, c].double().T @ camera_frame.T)  # Rᵀ X, one view at a time
        world = torch.stack(world).transpose(-1, -2)  # (V, J, 3)
        average = world.mean(0)
        spread = (world - average).norm(dim=-1).mean(0)
        pose = torch.tensor(row["pose"], dtype=torch.float64)
        assert row["views"] == len(views)
        assert torch.allclose(pose - pose[BODY.root], average, atol=0.02)
        assert torch.allclose(torch.tensor(row["uncertainty_mm"], dtype=torch.float64), spread, atol=0.02)


def test_dataset_file_gives_the_same_world_poses_as_its_view_folders(
    checkpoint, test_set, views_folder, calibration, tmp_path
):
    test_set.save(tmp_path / "test.npz")
    from_file = _run(checkpoint, tmp_path / "test.npz", tmp_path / "a.json")
    from_folders = _run(checkpoint, views_folder, tmp_path / "b.json", "--calibration", calibration)
    assert [row["frame"] for row in from_file["frames"]] == test_set.frame_ids.tolist()
    assert np.allclose(_poses(from_file), _poses(from_folders), atol=0.02, equal_nan=True)


def test_body25_input_lifts_as_the_same_detections_in_coco18(checkpoint, test_set, tmp_path):
    keypoints, confidence = test_set.keypoints_2d[:, 0], test_set.confidence[:, 0]
    coco = _single_view_folder(tmp_path / "coco", keypoints, confidence, "COCO")
    body25 = _single_view_folder(tmp_path / "body25", keypoints, confidence, "BODY_25")
    options = ("--focal", 1400, "--image-size", *IMAGE_SIZE)
    from_coco = _run(checkpoint, coco, tmp_path / "coco.json", *options)
    from_body25 = _run(checkpoint, body25, tmp_path / "body25.json", *options)
    assert [row["status"] for row in from_coco["frames"]] == [row["status"] for row in from_body25["frames"]]
    assert np.array_equal(_poses(from_coco), _poses(from_body25), equal_nan=True)


def test_frames_that_cannot_be_lifted_get_a_status_and_every_person_a_row(checkpoint, test_set, tmp_path):
    keypoints, confidence = test_set.keypoints_2d[:4, 0].clone(), test_set.confidence[:4, 0].clone()
    confidence[1, BODY.root] = 0  # root missing
    confidence[2, 4:] = 0  # four joints left
    folder = _single_view_folder(tmp_path / "view", keypoints[:3], confidence[:3])
    write_openpose(folder / "view_000000000003_keypoints.json", keypoints[[0, 0]], confidence[[0, 0]])  # two people
    write_openpose(folder / "view_000000000004_keypoints.json", keypoints[:0], confidence[:0])  # nobody
    result = _run(checkpoint, folder, tmp_path / "poses.json", "--focal", 1400, "--image-size", *IMAGE_SIZE)
    rows = [(row["frame"], row["person"], row["status"]) for row in result["frames"]]
    assert rows == [(0, 0, "ok"), (1, 0, "root_missing"), (2, 0, "too_few_joints"), (3, 0, "ok"), (3, 1, "ok"),
                    (4, 0, "no_person")]  # fmt: skip
    assert result["summary"]["by_status"] == {"ok": 3, "no_person": 1, "root_missing": 1, "too_few_joints": 1,
                                              "too_few_views": 0, "not_finite": 0, "implausible": 0}  # fmt: skip
    poses = _poses(result)
    assert np.array_equal(poses[0], poses[3]) and np.array_equal(poses[3], poses[4])


def test_a_malformed_file_in_a_folder_is_reported_skipped_and_counted(checkpoint, test_set, tmp_path, capsys):
    folder = _single_view_folder(tmp_path / "view", test_set.keypoints_2d[:4, 0], test_set.confidence[:4, 0])
    broken = folder / "view_000000000002_keypoints.json"
    broken.write_text('{"people": [{"pose_keypoints_2d": [1, 2')
    result = _run(checkpoint, folder, tmp_path / "poses.json", "--focal", 1400, "--image-size", *IMAGE_SIZE)
    assert [row["frame"] for row in result["frames"]] == [0, 1, 3]
    assert result["summary"]["skipped_files"] == 1
    assert result["skipped_files"][0]["file"] == str(broken)
    assert "malformed JSON" in result["skipped_files"][0]["error"]
    assert broken.name in capsys.readouterr().err


def _foreign_checkpoint(path: Path, skeleton_name: str) -> Path:
    """A well-formed checkpoint of a small network naming ``skeleton_name`` (known or not) as its skeleton."""
    skeleton = BODY_HANDS if skeleton_name == "body_hands" else BODY
    zeros, ones = torch.zeros(skeleton.num_joints, 3), torch.ones(skeleton.num_joints, 3)
    stats = NormalisationStats(zeros[:, :2], ones[:, :2], zeros, ones)
    config = TrainConfig(model=ModelConfig(hidden=8))
    network = LiftingNetwork(config.model, skeleton, stats)
    torch.save({"format": "weakpose-lite checkpoint", "version": CHECKPOINT_VERSION, "config": asdict(config),
                "skeleton": skeleton_name, "best_model": network.state_dict()}, path)  # fmt: skip
    return path


def _bad_cases(tmp: Path, checkpoint: Path, dataset_file: Path, calibration: Path, folder: Path, views: Path) -> dict:
    """Each bad input: (arguments, the file the error must name, what the error must say was expected)."""
    not_openpose = tmp / "detections.json"
    not_openpose.write_text('{"bodies": []}')
    corrupted = tmp / "corrupted.pt"
    corrupted.write_bytes(checkpoint.read_bytes()[: 2000])
    hands = _foreign_checkpoint(tmp / "hands.pt", "body_hands")
    other = _foreign_checkpoint(tmp / "other.pt", "body_25_feet")
    layout = BAD_INPUTS / "openpose_19_keypoints_keypoints.json"
    pinhole = ("--focal", "1400", "--image-size", "1920", "1080")
    return {
        "not_openpose": ((checkpoint, not_openpose, *pinhole), not_openpose.name, "people is missing"),
        "unknown_layout": ((checkpoint, layout, *pinhole), layout.name, "unknown layout: expected 54 numbers"),
        "skeleton_mismatch": ((hands, dataset_file), dataset_file.name, "skeleton_name must be 'body_hands'"),
        "unknown_skeleton": ((other, dataset_file), other.name, "unknown skeleton 'body_25_feet'"),
        "corrupted_checkpoint": ((corrupted, dataset_file), corrupted.name, "not a readable weakpose-lite checkpoint"),
        "no_intrinsics": ((checkpoint, folder), folder.name, "--focal F and --image-size W H"),
        "focal_without_size": ((checkpoint, folder, "--focal", "1400"), folder.name, "--focal without --image-size"),
        "views_without_calibration": ((checkpoint, views), views.name, "per-view folders (hd_"),
        "unknown_view": ((checkpoint, folder, "--calibration", calibration, "--view", "99_99"), calibration.name,
                         "has no hd camera '99_99'"),
        "view_not_chosen": ((checkpoint, folder, "--calibration", calibration), calibration.name, "choose the one"),
        "unknown_input": ((checkpoint, tmp / "poses.csv"), "poses.csv", "no such file or folder"),
        "all_files_broken": ((checkpoint, tmp / "broken", *pinhole), "broken", "none of its 1 JSON files"),
    }  # fmt: skip


BAD_CASES = ("not_openpose", "unknown_layout", "skeleton_mismatch", "unknown_skeleton", "corrupted_checkpoint",
             "no_intrinsics", "focal_without_size", "views_without_calibration", "unknown_view", "view_not_chosen", "unknown_input",
             "all_files_broken")  # fmt: skip


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_a_clear_error_and_writes_nothing(case, checkpoint, test_set, calibration, views_folder, tmp_path, capsys):
    test_set.save(tmp_path / "test.npz")
    folder = _single_view_folder(tmp_path / "view", test_set.keypoints_2d[:2, 0], test_set.confidence[:2, 0])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a_keypoints.json").write_text("[]")
    arguments, named, expected = _bad_cases(tmp_path, checkpoint, tmp_path / "test.npz", calibration, folder, views_folder)[case]
    output = tmp_path / "out" / "poses.json"
    assert lift.main([*map(str, arguments), "-o", str(output)]) == 2
    error = capsys.readouterr().err
    assert named in error and expected in error
    assert not output.parent.exists() or not any(output.parent.iterdir())


def test_output_of_an_unknown_extension_is_refused_before_any_work(checkpoint, test_set, tmp_path, capsys):
    test_set.save(tmp_path / "test.npz")
    assert lift.main([str(checkpoint), str(tmp_path / "test.npz"), "-o", str(tmp_path / "poses.txt")]) == 2
    assert "must end in .json or .npz" in capsys.readouterr().err
    assert not (tmp_path / "poses.txt").exists()


def test_a_failure_while_writing_leaves_no_partial_output(checkpoint, test_set, tmp_path, monkeypatch):
    test_set.save(tmp_path / "test.npz")

    def fail_midway(handle, **arrays):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(poses_file.np, "savez_compressed", fail_midway)
    output = tmp_path / "out" / "poses.npz"
    assert lift.main([str(checkpoint), str(tmp_path / "test.npz"), "-o", str(output)]) == 2
    assert list(output.parent.iterdir()) == []


def test_output_schema_in_json_and_npz(checkpoint, test_set, views_folder, calibration, tmp_path):
    result = _run(checkpoint, views_folder, tmp_path / "poses.json", "--calibration", calibration)
    header_keys = {"format", "version", "units", "coordinate_frame", "skeleton", "joint_names", "root_joint",
                   "checkpoint", "input", "statuses", "skipped_files", "summary"}  # fmt: skip
    assert set(result) == header_keys | {"frames"}
    assert (result["format"], result["version"], result["units"]) == ("weakpose-lite poses", 1, "mm")
    assert result["joint_names"] == list(COCO18) and result["root_joint"] == "neck"
    assert result["statuses"] == list(inference.STATUSES)
    assert set(result["frames"][0]) == {"frame", "person", "source", "status", "views", "pose", "uncertainty_mm"}
    assert np.array(result["frames"][0]["pose"]).shape == (18, 3)
    assert lift.main([str(checkpoint), str(views_folder), "-o", str(tmp_path / "poses.npz"), "--calibration",
                      str(calibration)]) == 0  # fmt: skip
    with np.load(tmp_path / "poses.npz", allow_pickle=False) as archive:
        header = json.loads(str(archive["header"]))
        assert set(header) == header_keys
        assert archive["poses"].shape == (TEST_FRAMES, 18, 3) and archive["uncertainty_mm"].shape == (TEST_FRAMES, 18)
        assert archive["status"].tolist() == [row["status"] for row in result["frames"]]
        assert np.allclose(archive["poses"], _poses(result), atol=0.01)


def test_plot_writes_a_png_and_a_small_html(checkpoint, test_set, tmp_path):
    test_set.save(tmp_path / "test.npz")
    _run(checkpoint, tmp_path / "test.npz", tmp_path / "poses.json", "--plot", "--plot-frames", 2)
    assert (tmp_path / "poses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "poses.html").read_text()
    assert "cdn.plot.ly" in html and len(html) < 100_000


def test_fuse_views_matches_a_float64_loop():
    generator = torch.Generator().manual_seed(0)
    predicted = torch.randn(3, 4, 5, 3, generator=generator, dtype=torch.float64)
    R = torch.linalg.qr(torch.randn(3, 4, 3, 3, generator=generator, dtype=torch.float64))[0]
    usable = torch.tensor([[True, True, False, True], [True, False, False, False], [False] * 4])
    average, spread = inference.fuse_views(predicted, R, usable)
    for f in range(2):
        world = [R[f, c].T @ predicted[f, c].T for c in range(4) if usable[f, c]]
        expected = sum(world) / len(world)
        assert torch.allclose(average[f], expected.T)
        assert torch.allclose(spread[f], sum((w - expected).norm(dim=0) for w in world) / len(world))
    assert torch.isnan(spread[2]).all()


def test_pinhole_intrinsics_put_the_principal_point_at_the_centre():
    K = pinhole_intrinsics(1000.0, 640, 480, torch.float64)
    assert torch.equal(K, torch.tensor([[1000.0, 0, 320], [0, 1000, 240], [0, 0, 1]], dtype=torch.float64))
    with pytest.raises(ValueError, match="must be positive"):
        pinhole_intrinsics(0.0, 640, 480)


def test_frame_numbers_come_from_names_or_their_order():
    assert frame_numbers(["a_000000000150_keypoints.json", "a_000000000151_keypoints.json"]) == [150, 151]
    assert frame_numbers(["img7.json", "img9.json"]) == [7, 9]
    assert frame_numbers(["front.json", "img9.json"]) == [0, 1]
    assert frame_numbers(["a1.json", "b1.json"]) == [0, 1]


def test_multi_view_frames_without_the_root_in_any_view_are_root_missing(checkpoint, test_set, names, tmp_path):
    keypoints, confidence, view_mask = test_set.keypoints_2d.clone(), test_set.confidence.clone(), test_set.view_mask
    confidence[0, :, BODY.root] = 0  # frame 0: the root is missing in every view
    confidence[1, 2:] = 0  # frame 1: two views left with a person
    root = tmp_path / "views"
    write_openpose_views(root, names, test_set.frame_ids, keypoints, confidence, view_mask & (confidence > 0).any(-1))
    calibration = tmp_path / "calibration_x.json"
    write_calibration(calibration, Calibration(test_set.cameras[0], names, torch.tensor([IMAGE_SIZE] * len(names))))
    result = _run(checkpoint, root, tmp_path / "poses.json", "--calibration", calibration)
    statuses = [row["status"] for row in result["frames"]]
    assert statuses[0] == "root_missing" and statuses[2:] == ["ok"] * (TEST_FRAMES - 2)
    assert result["frames"][0]["pose"] is None


def test_an_overflowing_network_output_is_not_finite_never_ok(model, test_set):
    views = make_views(test_set, with_targets=False)
    huge = dataclasses.replace(views, relative_2d=views.relative_2d * 1e36)
    lifted = inference.lift_views(model, huge, test_set.view_mask, "world")
    assert (lifted.status == inference.NOT_FINITE).all()
    assert torch.isnan(lifted.poses).all()


def test_a_body_and_hands_checkpoint_refuses_detections_without_any_hand(test_set, tmp_path, capsys):
    hands = _foreign_checkpoint(tmp_path / "hands.pt", "body_hands")
    folder = _single_view_folder(tmp_path / "view", test_set.keypoints_2d[:2, 0], test_set.confidence[:2, 0])
    output = tmp_path / "poses.json"
    assert lift.main([str(hands), str(folder), "-o", str(output), "--focal", "1400", "--image-size", "1920", "1080"]) == 2
    assert "hand keypoints must be detected" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("which", ["input", "checkpoint"])
def test_the_output_may_not_be_an_input(which, checkpoint, test_set, tmp_path, capsys):
    dataset = tmp_path / "test.npz"
    test_set.save(dataset)
    copied = tmp_path / "model.json"  # a checkpoint under a name the output check alone would accept
    copied.write_bytes(checkpoint.read_bytes())
    before = {path: path.read_bytes() for path in (dataset, copied)}
    assert lift.main([str(copied), str(dataset), "-o", str(dataset if which == "input" else copied)]) == 2
    assert "is also an input of this run" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in before} == before


@pytest.mark.parametrize(
    "damage, value, expected",
    [("nan_weight", float("nan"), "must be finite"),
     ("std_2d", 0.0, "best_model.std_2d[0, 0] must be in [1e-06, 10] normalised image units (a person's), got 0"),
     ("std_2d", 1e-30, "best_model.std_2d[0, 0] must be in [1e-06, 10] normalised image units (a person's), got 1e-30"),
     ("mean_3d", 1e30, "best_model.mean_3d[0, 0] must be in [-3000, 3000] mm (a person's), got 1e+30"),
     ("std_3d", 1e30, "best_model.std_3d[0, 0] must be in [1e-06, 3000] mm (a person's), got 1e+30")],
    ids=["nan weight", "zero spread", "std_2d 1e-30", "mean_3d 1e30", "std_3d 1e30"],
)  # fmt: skip
def test_a_checkpoint_whose_statistics_no_person_has_is_refused(damage, value, expected, checkpoint, test_set, tmp_path,
                                                                capsys):  # fmt: skip
    content = torch.load(checkpoint, weights_only=True)
    weights = content["best_model"]
    name = next(name for name in weights if name.endswith("weight")) if damage == "nan_weight" else damage
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] = value
    broken = tmp_path / "broken.pt"
    torch.save(content, broken)
    test_set.save(tmp_path / "test.npz")
    assert lift.main([str(broken), str(tmp_path / "test.npz"), "-o", str(tmp_path / "poses.json")]) == 2
    error = capsys.readouterr().err
    assert "broken.pt" in error and expected in error, error
    assert error.count("\n") == 1


def test_bad_flags_are_one_line_with_status_2_and_debug_shows_the_traceback(checkpoint, tmp_path):
    command = [sys.executable, "-m", "weakpose_lite.lift", str(checkpoint), str(tmp_path / "missing"), "-o", "x.json"]
    plain = subprocess.run(command, capture_output=True, text=True)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "no such file or folder" in plain.stderr
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    wrong = subprocess.run([*command[:-2], "--batch-size", "many", "-o", "x.json"], capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "--batch-size" in wrong.stderr


@pytest.mark.parametrize("defect", ["one_centre", "far_centre", "folding_lens"])
def test_a_dataset_file_whose_cameras_fail_the_gate_is_refused_before_lifting(defect, checkpoint, test_set, tmp_path, capsys):
    K, R, t, dist = (p.clone() for p in (test_set.cameras.K, test_set.cameras.R, test_set.cameras.t, test_set.cameras.dist))
    if defect == "one_centre":
        t = torch.zeros_like(t)  # the case: lift said "ok" for every row, 212-487 mm off
    elif defect == "far_centre":
        t[0, 1] = R[0, 1] @ torch.tensor([0.0, 0.0, -1e30])
    else:
        dist[0, 2, 0] = 50.0
    dataclasses.replace(test_set, cameras=Camera(K, R, t, dist)).save(tmp_path / "test.npz")
    output = tmp_path / "poses.json"
    assert lift.main([str(checkpoint), str(tmp_path / "test.npz"), "-o", str(output)]) == 2
    error = capsys.readouterr().err
    expected = {"one_centre": "two distinct centres", "far_centre": "camera_t[0, 1] must put the camera centre",
                "folding_lens": "camera_dist[0, 2] must be a lens invertible"}[defect]  # fmt: skip
    assert error.startswith("error: test.npz: ") and expected in error and error.count("\n") == 1, error
    assert not output.exists()


def test_a_float64_dataset_file_lifts_as_its_float32_copy(checkpoint, test_set, tmp_path):
    float64 = dataclasses.replace(test_set, keypoints_2d=test_set.keypoints_2d.double(),
                                  confidence=test_set.confidence.double(), points_3d=test_set.points_3d.double(),
                                  cameras=test_set.cameras.to(torch.float64))  # fmt: skip
    float64.save(tmp_path / "float64.npz")
    test_set.save(tmp_path / "float32.npz")
    poses = [_poses(_run(checkpoint, tmp_path / f"{name}.npz", tmp_path / f"{name}.json")) for name in ("float64", "float32")]
    np.testing.assert_array_equal(poses[0], poses[1])


@pytest.mark.parametrize("scale, expected", [(1.0, "ok"), (100.0, "implausible"), (1e-3, "implausible")],
                         ids=["as trained", "bones metres long", "shrunk to a point"])  # fmt: skip
def test_a_pose_outside_a_persons_range_is_implausible_never_ok_in_lift_and_evaluate(model, test_set, scale, expected):
    scaled = LiftingNetwork(model.config, model.skeleton, NormalisationStats(
        model.mean_2d, model.std_2d, model.mean_3d * scale, model.std_3d * scale))  # fmt: skip
    scaled.load_state_dict({**model.state_dict(), "mean_3d": model.mean_3d * scale, "std_3d": model.std_3d * scale})
    views = make_views(test_set, with_targets=True)
    for coordinate_frame in ("world", "camera"):
        lifted = inference.lift_views(scaled, views, test_set.view_mask, coordinate_frame, 6)
        assert [inference.STATUSES[code] for code in lifted.status.tolist()] == [expected] * TEST_FRAMES
        assert torch.isnan(lifted.poses).all() == (expected != "ok")
    evaluation = inference.evaluate(scaled, views, model.skeleton)
    usable = int(views[views.trainable_frames].usable.sum())
    assert evaluation["implausible_poses"] == (0 if expected == "ok" else usable)


def test_plausible_poses_matches_a_loop_over_bones():
    generator = torch.Generator().manual_seed(3)
    poses = torch.randn(200, BODY.num_joints, 3, generator=generator, dtype=torch.float64) * 10 ** (
        torch.rand(200, 1, 1, generator=generator, dtype=torch.float64) * 5)  # spreads from 1 mm to 100 m
    poses[:, BODY.root] = 0
    expected = []
    for pose in poses.tolist():
        lengths = [np.linalg.norm(np.subtract(pose[child], pose[parent])) for parent, child in BODY.bones]
        reach = max(np.linalg.norm(joint) for joint in pose)
        expected.append(reach <= 3000 and max(lengths) <= 1000 and max(lengths) >= 50)
    assert 20 < sum(expected) < 180
    assert plausible_poses(poses, BODY).tolist() == expected
