"""The data scripts: download against a local HTTP server (no internet), safe tar extraction, and the dataset build."""

import bz2
import gzip
import hashlib
import io
import json
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from weakpose_lite.cameras import Camera, look_at_rotation, project
from weakpose_lite.data import build
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.formats import openpose, panoptic
from weakpose_lite.data.formats.panoptic import Calibration
from weakpose_lite.data.synthetic.detections import DetectionConfig

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
sys.path.insert(0, str(SCRIPTS))
import build_panoptic_dataset  # noqa: E402
import download_panoptic  # noqa: E402

SEQUENCE = "171204_pose1"
ROOT_PATH = "/webdata/dataset"


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Repeated so the archive spans several read chunks and a half-way cut lands inside a member.
BODY_JSON = 50 * json.dumps({"version": 0.7, "univTime": 1.0, "fpsType": "hd_29_97", "bodies": []}).encode()
FILES = {
    f"/{SEQUENCE}/calibration_{SEQUENCE}.json": json.dumps({"calibDataSource": "x", "cameras": []}).encode(),
    f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar": _tar({"hdPose3d_stage1_coco19/body3DScene_00000001.json": BODY_JSON}),
}


class FakePanoptic:
    """A local server of a fake Panoptic tree; ``failures[path]`` lists what to do to the next requests ("503" or
    "cut": send half the promised bytes, then hang up); ``requests`` logs (path, Range header)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.failures, self.requests = dict(files), {}, []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{ROOT_PATH}"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.removeprefix(ROOT_PATH)
                fake.requests.append((path, self.headers.get("Range")))
                plan = fake.failures.get(path, [])
                action = plan.pop(0) if plan else None
                if path not in fake.files or action == "503":
                    self.send_error(404 if path not in fake.files else 503)
                    return
                body, start = fake.files[path], 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                rest = body[start:]
                self.wfile.write(rest[: len(rest) // 2] if action == "cut" else rest)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def server():
    fake = FakePanoptic(FILES)
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


def _download(server: FakePanoptic, out: Path, *extra: str) -> int:
    arguments = ["--sequences", SEQUENCE, "--out", str(out), "--base-url", server.base_url, "--backoff", "0"]
    return download_panoptic.main([*arguments, "--timeout", "5", "--retries", "3", *extra])


@pytest.mark.parametrize("script", [download_panoptic, build_panoptic_dataset])
def test_scripts_answer_help(script, capsys):
    with pytest.raises(SystemExit) as exited:
        script.parse_arguments(["--help"])
    assert exited.value.code == 0 and "--dry-run" in capsys.readouterr().out


def test_dry_run_prints_the_getdata_addresses_and_fetches_nothing(tmp_path, capsys):
    base = "http://domedb.perception.cs.cmu.edu/webdata/dataset"
    assert download_panoptic.main(["--dry-run", "--sequences", SEQUENCE, "--out", str(tmp_path), "--with-videos"]) == 0
    urls = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    remote = f"{base}/{SEQUENCE}"
    assert urls[:3] == [f"{remote}/calibration_{SEQUENCE}.json", f"{remote}/hdPose3d_stage1_coco19.tar",
                        f"{remote}/hdHand3d.tar"]  # fmt: skip
    assert urls[3] == f"{remote}/videos/hd_shared_crf20/hd_00_00.mp4" and len(urls) == 3 + 31
    assert list(tmp_path.iterdir()) == []


def test_default_sequence_list_is_the_nine_single_person_sequences():
    names = download_panoptic.read_sequence_list(download_panoptic.DEFAULT_LIST)
    assert names == [f"171204_pose{k}" for k in range(1, 7)] + [f"171026_pose{k}" for k in range(1, 4)]


def test_download_resumes_a_cut_transfer_with_a_range_request_and_unpacks(server, tmp_path, capsys):
    tar_path = f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"
    server.failures[tar_path] = ["cut"]
    assert _download(server, tmp_path) == 0
    folder = tmp_path / SEQUENCE
    ranges = [header for path, header in server.requests if path == tar_path]
    assert ranges == [None, f"bytes={len(FILES[tar_path]) // 2}-"]
    assert (folder / "hdPose3d_stage1_coco19.tar").read_bytes() == FILES[tar_path]
    assert (folder / "hdPose3d_stage1_coco19" / "body3DScene_00000001.json").read_bytes() == BODY_JSON
    assert (folder / f"calibration_{SEQUENCE}.json").read_bytes() == FILES[f"/{SEQUENCE}/calibration_{SEQUENCE}.json"]
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*extracting"))
    assert "hdHand3d.tar: not on the server (HTTP 404), skipped" in capsys.readouterr().out


def test_download_retries_server_errors_with_doubling_delays(server, tmp_path, monkeypatch):
    calibration = f"/{SEQUENCE}/calibration_{SEQUENCE}.json"
    server.failures[calibration] = ["503", "503"]
    delays = []
    monkeypatch.setattr(download_panoptic.time, "sleep", delays.append)
    assert _download(server, tmp_path, "--backoff", "1.5") == 0
    assert delays == [1.5, 3.0]
    assert [path for path, _ in server.requests].count(calibration) == 3


def test_missing_required_file_fails_without_retrying(server, tmp_path, capsys):
    del server.files[f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"]
    assert _download(server, tmp_path) == 1
    assert [path for path, _ in server.requests].count(f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar") == 1
    assert "hdPose3d_stage1_coco19.tar: FAILED: HTTP Error 404" in capsys.readouterr().err


def test_finished_files_are_never_fetched_or_overwritten_again(server, tmp_path, capsys):
    assert _download(server, tmp_path) == 0
    extracted = tmp_path / SEQUENCE / "hdPose3d_stage1_coco19" / "body3DScene_00000001.json"
    extracted.write_text("edited by the user")
    asked = len(server.requests)
    assert _download(server, tmp_path) == 0
    assert len(server.requests) == asked + 1  # only the optional hand archive, which has no marker, is asked again
    assert extracted.read_text() == "edited by the user"
    assert capsys.readouterr().out.count("already complete") == 2


def test_existing_damaged_file_is_reported_not_overwritten(server, tmp_path, capsys):
    damaged = tmp_path / SEQUENCE / "hdPose3d_stage1_coco19.tar"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(FILES[f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"][:700])
    assert _download(server, tmp_path) == 1
    error = capsys.readouterr().err
    assert "hdPose3d_stage1_coco19.tar: damaged tar archive" in error and "delete it to download it again" in error
    assert damaged.read_bytes() == FILES[f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"][:700]
    assert not download_panoptic.marker_path(damaged).exists()


def test_truncated_archive_from_the_server_fails_verification_and_keeps_no_file(server, tmp_path, capsys):
    tar_path = f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"
    server.files[tar_path] = FILES[tar_path][:700]
    assert _download(server, tmp_path) == 1
    error = capsys.readouterr().err
    assert "hdPose3d_stage1_coco19.tar: FAILED: hdPose3d_stage1_coco19.tar: damaged tar archive" in error
    assert not (tmp_path / SEQUENCE / "hdPose3d_stage1_coco19.tar").exists()
    assert not list((tmp_path / SEQUENCE).glob("*.part"))


def test_sha256_mismatch_refuses_the_file(server, tmp_path, capsys):
    good = hashlib.sha256(FILES[f"/{SEQUENCE}/hdPose3d_stage1_coco19.tar"]).hexdigest()
    checksums = tmp_path / "sha256.txt"
    checksums.write_text(
        f"{'0' * 64}  {SEQUENCE}/calibration_{SEQUENCE}.json\n{good}  {SEQUENCE}/hdPose3d_stage1_coco19.tar\n"
    )
    assert _download(server, tmp_path / "out", "--sha256", str(checksums)) == 1
    assert f"calibration_{SEQUENCE}.json: SHA-256 must be {'0' * 64}" in capsys.readouterr().err
    folder = tmp_path / "out" / SEQUENCE
    assert sorted(path.name for path in folder.iterdir() if not path.is_dir()) == [
        "hdPose3d_stage1_coco19.tar", "hdPose3d_stage1_coco19.tar.complete"]  # fmt: skip


@pytest.mark.parametrize("member", ["../escape.txt", "hdHand3d/../../escape.txt", "link"])
def test_malicious_tar_member_cannot_land_outside_the_sequence_folder(tmp_path, member):
    folder = tmp_path / "sequence"
    folder.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
        else:
            info.size = 4
            archive.addfile(info, io.BytesIO(b"evil"))
    (folder / "hdHand3d.tar").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"hdHand3d.tar: member .* refused, nothing extracted"):
        download_panoptic.extract(folder / "hdHand3d.tar", folder)
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["hdHand3d.tar", "sequence"]


def _look_at_calibration(views: int) -> Calibration:
    """Views on a circle of 3 m around a person standing at the origin, world y down as in Panoptic."""
    angle = torch.arange(views, dtype=torch.float64) * 2 * torch.pi / views
    centers = torch.stack([3000 * angle.cos(), torch.full_like(angle, -1500.0), 3000 * angle.sin()], -1)
    target = torch.tensor([0.0, -1000.0, 0.0], dtype=torch.float64).expand(views, 3)
    R = look_at_rotation(centers, target, torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64))
    t = -(R @ centers.unsqueeze(-1)).squeeze(-1)
    K = torch.tensor([[1500.0, 0, 960], [0, 1500, 540], [0, 0, 1]], dtype=torch.float64).expand(views, 3, 3)
    dist = torch.tensor([-0.2, 0.2, 0.0, 0.0, 0.0], dtype=torch.float64).expand(views, 5)
    names = tuple(f"00_{c:02d}" for c in range(views))
    return Calibration(Camera(K, R, t, dist), names, torch.tensor([[1920, 1080]] * views))


def _write_fake_sequence(root: Path, name: str, frames: int, views: int, seed: int, with_openpose: bool) -> dict:
    """A downloaded-looking sequence written with the kit's writers; returns what was written."""
    folder = root / name
    calibration = _look_at_calibration(views)
    panoptic.write_calibration(panoptic.calibration_file(folder), calibration)
    generator = torch.Generator().manual_seed(seed)
    body = torch.randn(frames, 18, 3, generator=generator, dtype=torch.float64) * 200 + torch.tensor([0, -1000.0, 0])
    confidence = torch.full((frames, 18), 0.7, dtype=torch.float64)
    confidence[0, 4] = 0.05  # below the 0.1 threshold: unknown in the groundtruth
    hands = torch.randn(frames, 42, 3, generator=generator, dtype=torch.float64) * 50 + torch.tensor([0, -1000.0, 0])
    frame_ids = torch.arange(frames) + 100
    for f, frame in enumerate(frame_ids.tolist()):
        panoptic.write_bodies(panoptic.body_file(folder, frame), body[f][None], confidence[f][None], [0])
        panoptic.write_hands(panoptic.hand_file(folder, frame), hands[f][None], torch.ones(1, 42, dtype=torch.bool),
                             torch.ones(1, 42), [0])  # fmt: skip
    points = torch.cat([body, hands], 1)
    keypoints = project(points[:, None], calibration.cameras)  # (F, C, 60, 2)
    view_mask = torch.ones(frames, views, dtype=torch.bool)
    view_mask[-1, 1:] = False  # the last frame is seen by one view only: dropped from the OpenPose build
    if with_openpose:
        openpose.write_openpose_views(folder / build.OPENPOSE_FOLDER, calibration.names, frame_ids, keypoints,
                                      torch.full(keypoints.shape[:-1], 0.9), view_mask)  # fmt: skip
    return {"points": points, "confidence": confidence, "keypoints": keypoints, "frame_ids": frame_ids}


def test_assign_splits_keeps_whole_sequences_about_80_10_10():
    names = [f"seq{k}" for k in range(20)]
    splits = build.assign_splits(names, seed=3)
    counts = {split: list(splits.values()).count(split) for split in build.SPLITS}
    assert counts == {"train": 16, "validation": 2, "test": 2} and set(splits) == set(names)
    assert build.assign_splits(names, seed=3) == splits
    assert set(build.assign_splits(names[:2]).values()) == {"train"}


def test_split_file_line_errors_name_file_and_line(tmp_path):
    (tmp_path / "splits.txt").write_text("a train\nb training\n")
    with pytest.raises(ValueError, match=r"splits.txt: line 2 must read '<sequence> <split>'"):
        build.read_split_file(tmp_path / "splits.txt")


def test_build_from_openpose_output_end_to_end(tmp_path):
    written = {name: _write_fake_sequence(tmp_path / "raw", name, frames=4, views=3, seed=k, with_openpose=True)
               for k, name in enumerate(["seqA", "seqB", "seqC"])}  # fmt: skip
    (tmp_path / "splits.txt").write_text("seqA train\nseqB train  # two in train\nseqC test\n")
    with pytest.warns(UserWarning, match="dropped 1 of 4 frames"):
        paths = build.build_datasets(tmp_path / "raw", tmp_path / "out", list(written), tmp_path / "splits.txt")
    assert sorted(paths) == ["test", "train"]
    train = MultiViewDataset.load(paths["train"])
    assert train.sequence_names == ("seqA", "seqB") and train.skeleton_name == "body_hands"
    assert train.keypoints_2d.shape == (6, 3, 60, 2) and train.cameras.batch_shape == (2, 3)
    assert train.metadata["detections"] == "openpose" and train.metadata["dropped_frames"] == {"seqA": 1, "seqB": 1}
    seq_b = train.sequence_index == 1
    expected = written["seqB"]
    assert train.frame_ids[seq_b].tolist() == expected["frame_ids"][:3].tolist()
    assert torch.allclose(train.keypoints_2d[seq_b].double(), expected["keypoints"][:3], atol=1e-2)
    truth = expected["points"][:3].clone()
    truth[0, 4] = float("nan")
    assert torch.allclose(train.points_3d[seq_b].double(), truth, atol=1e-2, equal_nan=True)
    camera_t = panoptic.read_calibration(panoptic.calibration_file(tmp_path / "raw" / "seqB")).cameras.t
    assert torch.allclose(train.cameras.t[1], camera_t)


def test_build_with_simulated_detections_end_to_end(tmp_path):
    for k, name in enumerate(["seqA", "seqB", "seqC"]):
        _write_fake_sequence(tmp_path / "raw", name, frames=3, views=3, seed=k, with_openpose=False)
    paths = build.build_datasets(tmp_path / "raw", tmp_path / "out", ["seqA", "seqB", "seqC"])
    assert sorted(paths) == ["test", "train", "validation"]
    dataset = MultiViewDataset.load(paths["train"])
    assert dataset.metadata["detections"] == "simulated" and dataset.keypoints_2d.shape == (3, 3, 60, 2)
    assert dataset.view_mask.all() and torch.isfinite(dataset.keypoints_2d).all()
    assert (dataset.keypoints_2d[dataset.confidence == 0] == 0).all()


def test_simulated_detections_without_noise_are_the_projections_of_the_groundtruth(tmp_path):
    written = _write_fake_sequence(tmp_path, "seqA", frames=3, views=3, seed=0, with_openpose=False)
    config = build.BuildConfig(skeleton="body", detection_config=DetectionConfig.noiseless())
    data = build.build_sequence(tmp_path / "seqA", "body", config)
    found = data.confidence > 0
    assert found.float().mean() > 0.9
    assert torch.allclose(data.keypoints_2d[found].double(), written["keypoints"][:, :, :18][found], atol=0.05)
    unknown = torch.isnan(data.points_3d).any(-1)[:, None].expand_as(found)
    assert unknown.any() and not found[unknown].any()


def test_build_script_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    _write_fake_sequence(tmp_path / "raw", "seqA", frames=2, views=2, seed=0, with_openpose=True)
    arguments = ["--root", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--sequences", "seqA", "--dry-run"]
    assert build_panoptic_dataset.main(arguments) == 0
    output = capsys.readouterr().out
    assert "skeleton: body_hands" in output and "train: seqA (openpose)" in output and "validation: none" in output
    assert not (tmp_path / "out").exists()


# ---- the build's hostile inputs: repeated sequences, bad config values, missing folders; one line, exit 2 --------


def _run_build(arguments: list[str], capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of the build script's ``main`` run in-process (argparse errors exit)."""
    try:
        status = build_panoptic_dataset.main(arguments)
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def raw(tmp_path):
    """Three small sequences in the real formats (OpenPose output for seqA only) under tmp_path/raw."""
    for k, name in enumerate(["seqA", "seqB", "seqC"]):
        _write_fake_sequence(tmp_path / "raw", name, frames=3, views=3, seed=k, with_openpose=name == "seqA")
    return tmp_path / "raw"


def _bad_build_cases(tmp: Path) -> dict:
    """Case -> (extra arguments, text the one error line must contain); written files live in ``tmp``."""
    (tmp / "twice.txt").write_text("seqA\nseqB\nseqA\n")
    (tmp / "splits_twice.txt").write_text("seqA train\nseqB test\nseqA train\n")
    (tmp / "splits_bad.txt").write_text("seqA train\nseqB testing\n")
    (tmp / "not_utf8.txt").write_bytes(b"seqA tr\xffin\n")
    return {
        "sequence twice on the command line": (["--sequences", "seqA", "seqB", "seqA"],
                                               "--sequences: sequence 'seqA' is listed twice"),
        "sequence twice in the list file": (["--list", str(tmp / "twice.txt")],
                                            "twice.txt: sequence 'seqA' is listed twice"),
        "split file naming a sequence twice": (["--sequences", "seqA", "seqB", "--split-file",
                                                str(tmp / "splits_twice.txt")],
                                               "splits_twice.txt: line 3 names sequence 'seqA' again "
                                               "(first on line 1)"),
        "split file with a bad split": (["--sequences", "seqA", "seqB", "--split-file", str(tmp / "splits_bad.txt")],
                                        "splits_bad.txt: line 2 must read '<sequence> <split>'"),
        "split file not UTF-8": (["--sequences", "seqA", "--split-file", str(tmp / "not_utf8.txt")],
                                 "not_utf8.txt: not UTF-8 text"),
        "split file missing": (["--sequences", "seqA", "--split-file", str(tmp / "absent.txt")], "absent.txt"),
        "min-confidence nan": (["--sequences", "seqA", "--min-confidence", "nan"],
                               "BuildConfig.min_confidence must be a finite float, got float nan"),
        "min-confidence inf": (["--sequences", "seqA", "--min-confidence", "inf"], "got float inf"),
        "min-confidence above 1": (["--sequences", "seqA", "--min-confidence", "1.5"], "got 1.5"),
        "min-confidence below 0": (["--sequences", "seqA", "--min-confidence", "-0.1"], "got -0.1"),
        "negative body id": (["--sequences", "seqA", "--body-id", "-1"],
                             "BuildConfig.body_id must be None or an integer"),
        "empty camera type": (["--sequences", "seqA", "--camera-type", ""], "BuildConfig.camera_type must be"),
        "unknown skeleton": (["--sequences", "seqA", "--skeleton", "hands"], "argument --skeleton: invalid choice"),
        "seed not a number": (["--sequences", "seqA", "--seed", "x"], "argument --seed: invalid int value"),
        "unknown flag": (["--sequences", "seqA", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        "sequence name with a path": (["--sequences", "../seqA"], "must be a sequence name like 171204_pose1"),
        "sequence folder missing": (["--sequences", "seqA", "seqZ"], "seqZ: sequence folder"),
        "calibration missing": (["--sequences", "seqB"], "seqB: calibration_seqB.json is missing"),
        "3D folder missing": (["--sequences", "seqC"], "seqC: hdPose3d_stage1_coco19/ is missing"),
    }  # fmt: skip


def _break_folders(raw: Path) -> None:
    (raw / "seqB" / "calibration_seqB.json").unlink()
    for path in (raw / "seqC" / "hdPose3d_stage1_coco19").iterdir():
        path.unlink()
    (raw / "seqC" / "hdPose3d_stage1_coco19").rmdir()


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "build"])
@pytest.mark.parametrize("case", [
    "sequence twice on the command line", "sequence twice in the list file", "split file naming a sequence twice",
    "split file with a bad split", "split file not UTF-8", "split file missing", "min-confidence nan",
    "min-confidence inf", "min-confidence above 1", "min-confidence below 0", "negative body id", "empty camera type",
    "unknown skeleton", "seed not a number", "unknown flag", "sequence name with a path", "sequence folder missing",
    "calibration missing", "3D folder missing",
])  # fmt: skip
def test_bad_build_input_is_one_error_line_with_exit_status_2_and_writes_nothing(raw, tmp_path, capsys, case, dry_run):
    _break_folders(raw)
    extra, expected = _bad_build_cases(tmp_path)[case]
    arguments = ["--root", str(raw), "--out", str(tmp_path / "out"), *extra] + (["--dry-run"] if dry_run else [])
    status, out, err = _run_build(arguments, capsys)
    assert status == 2, (out, err)
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert expected in err, err
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback_of_a_bad_input(raw, tmp_path):
    with pytest.raises(ValueError, match="BuildConfig.min_confidence must be a finite float"):
        build_panoptic_dataset.main(["--root", str(raw), "--sequences", "seqA", "--min-confidence", "nan", "--debug"])


def test_dry_run_checks_the_folders_without_reading_a_frame(raw, tmp_path, capsys):
    body = raw / "seqA" / "hdPose3d_stage1_coco19" / "body3DScene_00000100.json"
    body.write_text("{ not json")  # a dry run that read frames would fail here
    arguments = ["--root", str(raw), "--out", str(tmp_path / "out"), "--sequences", "seqA", "seqB", "--dry-run"]
    status, out, err = _run_build(arguments, capsys)
    assert status == 0 and err == ""
    assert not (tmp_path / "out").exists()
    status, _, err = _run_build(arguments[:-1], capsys)  # the real build does read it
    assert status == 2 and "body3DScene_00000100.json: malformed JSON" in err


def test_fewer_than_three_sequences_say_all_go_to_train_and_print_only_the_file_written(raw, tmp_path, capsys):
    arguments = ["--root", str(raw), "--out", str(tmp_path / "out"), "--sequences", "seqB", "seqC"]
    status, out, err = _run_build(arguments, capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert "note: 2 sequence(s) and no split file: all go to train" in out
    assert [line for line in lines if line.startswith("note:")] == [lines[1]]  # said once, in one line
    assert "validation: none (no file written)" in lines and "test: none (no file written)" in lines
    assert "validation.npz" not in out and "test.npz" not in out
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["train.npz"]
    assert f"built train: {tmp_path / 'out' / 'train.npz'}" in lines


def test_three_sequences_or_a_split_file_need_no_note(raw, tmp_path, capsys):
    (tmp_path / "splits.txt").write_text("seqA train\nseqB test\n")
    for extra in (["--sequences", "seqA", "seqB", "seqC"], ["--sequences", "seqA", "seqB", "--split-file",
                                                            str(tmp_path / "splits.txt")]):  # fmt: skip
        status, out, _ = _run_build(["--root", str(raw), "--out", str(tmp_path / "out"), "--dry-run", *extra], capsys)
        assert status == 0 and "note:" not in out


def test_build_prints_each_split_summary_frames_views_missing_joints_and_detections(raw, tmp_path, capsys):
    (tmp_path / "splits.txt").write_text("seqA train\nseqB test\n")
    arguments = ["--root", str(raw), "--out", str(tmp_path / "out"), "--sequences", "seqA", "seqB",
                 "--split-file", str(tmp_path / "splits.txt")]  # fmt: skip
    with pytest.warns(UserWarning, match="dropped 1 of 3 frames"):  # seqA's last frame has one OpenPose view
        status, out, err = _run_build(arguments, capsys)
    assert status == 0, err
    summaries = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  ")}
    for split, detections in (("train", "openpose"), ("test", "simulated")):
        dataset = MultiViewDataset.load(tmp_path / "out" / f"{split}.npz")
        views = dataset.view_mask.sum(1)
        present = dataset.view_mask[..., None].expand_as(dataset.confidence)
        missing = 100 * (1 - (dataset.confidence > 0).sum().item() / present.sum().item())  # plain count
        line = summaries[f"panoptic_{split}"]
        assert f"{dataset.num_frames} frames, views per frame {int(views.min())}-{int(views.max())}" in line
        assert f"missing joints {missing:.1f}%" in line and line.endswith(f"detections: {detections}")


@pytest.mark.parametrize(
    "field, value",
    [("min_confidence", float("nan")), ("min_confidence", float("inf")), ("min_confidence", 1.01),
     ("min_views", 1), ("split_fractions", (0.5, 0.5, 0.5)), ("split_fractions", (1.0, float("nan"), 0.0)),
     ("skeleton", "hands"), ("body_id", -1), ("body_id", True), ("seed", 1.5), ("camera_type", "")],
)  # fmt: skip
def test_build_config_refuses_each_bad_field_naming_it(field, value):
    with pytest.raises(ValueError, match=rf"^BuildConfig.{field} must be"):
        build.BuildConfig(**{field: value})


@pytest.mark.parametrize("second", ["train", "test"], ids=["same split", "another split"])
def test_split_file_naming_a_sequence_twice_is_an_error_with_both_lines(tmp_path, second):
    (tmp_path / "splits.txt").write_text(f"seqA train\n# a comment\nseqB test\nseqA {second}\n")
    with pytest.raises(ValueError, match=r"splits.txt: line 4 names sequence 'seqA' again \(first on line 1\)"):
        build.read_split_file(tmp_path / "splits.txt")


def test_build_datasets_refuses_a_sequence_listed_twice_before_building(raw, tmp_path):
    with pytest.raises(ValueError, match="sequences: sequence 'seqA' is listed twice"):
        build.build_datasets(raw, tmp_path / "out", ["seqA", "seqB", "seqA"])
    assert not (tmp_path / "out").exists()


def _fail_on(split_name: str, monkeypatch) -> None:
    """Make ``build_split`` raise for one split, as a damaged sequence or a full disk would halfway through."""
    real = build.build_split

    def failing(folders, skeleton, split, config):
        if split == split_name:
            raise OSError(f"{split}: no space left on device")
        return real(folders, skeleton, split, config)

    monkeypatch.setattr(build, "build_split", failing)


def test_a_rebuild_that_fails_on_its_last_split_leaves_the_previous_build_intact(raw, tmp_path, capsys, monkeypatch):
    (tmp_path / "splits.txt").write_text("seqA train\nseqB validation\nseqC test\n")
    arguments = ["--root", str(raw), "--out", str(tmp_path / "out"), "--sequences", "seqA", "seqB", "seqC",
                 "--split-file", str(tmp_path / "splits.txt")]  # fmt: skip
    assert _run_build(arguments, capsys)[0] == 0
    (tmp_path / "out" / "notes.txt").write_text("mine")
    before = {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()}
    (tmp_path / "splits.txt").write_text("seqB train\nseqA validation\nseqC test\n")  # train and validation change
    _fail_on("test", monkeypatch)
    status, _, err = _run_build(arguments, capsys)
    assert status == 2 and "test: no space left on device" in err
    assert {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "raw", "splits.txt"]  # no temporary folder left


def test_a_rebuild_with_fewer_splits_replaces_the_whole_build_and_keeps_other_files(raw, tmp_path, capsys):
    (tmp_path / "splits.txt").write_text("seqA train\nseqB validation\nseqC test\n")
    out = tmp_path / "out"
    full = ["--root", str(raw), "--out", str(out), "--sequences", "seqA", "seqB", "seqC", "--split-file",
            str(tmp_path / "splits.txt")]  # fmt: skip
    assert _run_build(full, capsys)[0] == 0
    (out / "notes.txt").write_text("mine")
    assert _run_build(["--root", str(raw), "--out", str(out), "--sequences", "seqB", "seqC"], capsys)[0] == 0
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt", "train.npz"]  # the old test.npz is gone
    assert MultiViewDataset.load(out / "train.npz").sequence_names == ("seqB", "seqC")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "raw", "splits.txt"]


@pytest.mark.parametrize("compression", ["", "gz", "bz2"])
def test_a_tar_cut_exactly_after_a_member_is_refused_as_incomplete(tmp_path, compression):
    whole = _tar({"hdPose3d_stage1_coco19/body3DScene_00000001.json": b'{"bodies": []}',
                  "hdPose3d_stage1_coco19/body3DScene_00000002.json": b'{"bodies": []}'})  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(whole)) as archive:
        members = archive.getmembers()
        boundary = members[1].offset_data + 512  # the second member's one data block, then nothing
    assert tarfile.open(fileobj=io.BytesIO(whole[:boundary])).getnames() == [m.name for m in members]  # tarfile: fine
    limits = download_panoptic.archive_limits("hdPose3d_stage1_coco19.tar")
    for data, complete in ((whole, True), (whole[:boundary], False), (whole[:boundary] + bytes(512), True)):
        path = tmp_path / "hdPose3d_stage1_coco19.tar"
        compressors = {"": lambda raw: raw, "gz": gzip.compress, "bz2": bz2.compress}
        path.write_bytes(compressors[compression](data))
        if complete:
            download_panoptic.verify(path, path.name, limits=limits)
        else:
            with pytest.raises(ValueError, match=r"^hdPose3d_stage1_coco19.tar: incomplete tar archive: no "
                                                 r"end-of-archive block after its last member"):  # fmt: skip
                download_panoptic.verify(path, path.name, limits=limits)
