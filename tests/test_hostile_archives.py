"""Hostile archives and command lines for ``data_scripts/download_panoptic.py``, every archive crafted at test time.

Each refused archive must leave the whole test folder as it was (nothing outside the sequence folder, nothing in it,
no staging folder) and give one line naming the archive, the member and why. Python 3.11 before the fix of
CVE-2025-4517 let a chain of symbolic links slip past tarfile's ``"data"`` filter, so the script checks every member
itself; the reproducer-shaped archive below is refused whatever the Python version.
"""

import bz2
import io
import lzma
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
sys.path.insert(0, str(SCRIPTS))
import download_panoptic  # noqa: E402

SEQUENCE = "171204_pose1"
ARCHIVE = "hdHand3d.tar"
BOMB_BYTES = 4 << 20
TYPES = {
    "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
    "chardev": tarfile.CHRTYPE, "blockdev": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE,
    "contiguous": tarfile.CONTTYPE, "sparse": tarfile.GNUTYPE_SPARSE,
}  # fmt: skip


def _member(name: str, kind: str = "file", data: bytes = b"{}", link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = TYPES[kind], link
    info.size = len(data) if kind in ("file", "contiguous") else 0
    return info, data if kind in ("file", "contiguous") else b""


def _tar(members: list[tuple[tarfile.TarInfo, bytes]], format=tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root`` -> its bytes, "folder" or the target of a link (links are not followed)."""
    found = {}
    for folder, names, files in os.walk(root):
        for name in names + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                found[key] = "folder"
            else:
                found[key] = path.read_bytes()
    return found


@pytest.fixture
def sequence(tmp_path) -> Path:
    """A sequence folder with a verified calibration, a finished body archive, user OpenPose output and videos, and a
    file beside the download folder that an escaping member would overwrite."""
    folder = tmp_path / "out" / SEQUENCE
    (folder / "openpose" / "hd_00_00").mkdir(parents=True)
    (folder / "openpose" / "hd_00_00" / "hd_00_00_000000000001_keypoints.json").write_text('{"people": []}')
    (folder / "hdVideos").mkdir()
    (folder / "hdVideos" / "hd_00_00.mp4").write_bytes(b"video")
    (folder / f"calibration_{SEQUENCE}.json").write_text('{"cameras": []}')
    (folder / "hdPose3d_stage1_coco19.tar").write_bytes(_tar([_member("hdPose3d_stage1_coco19/a.json")]))
    (folder / "hdPose3d_stage1_coco19.tar.complete").write_text("{}\n")
    (folder / "hdPose3d_stage1_coco19").mkdir()
    (folder / "hdPose3d_stage1_coco19" / "a.json").write_text("{}")
    (folder / "notes.txt").write_text("the user's notes")
    (folder / "mine").mkdir()
    (tmp_path / "outside.txt").write_text("outside")
    return folder


def _assert_refused(sequence: Path, archive_bytes: bytes, member: str | None, reason: str, limits=None) -> str:
    """Extracting ``archive_bytes`` as hdHand3d.tar is refused with one line naming it, ``member`` and ``reason``,
    and changes nothing under the test folder."""
    root = sequence.parents[1]
    (sequence / ARCHIVE).write_bytes(archive_bytes)
    before = _snapshot(root)
    with pytest.raises(ValueError) as raised:
        download_panoptic.extract(sequence / ARCHIVE, sequence, limits)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{ARCHIVE}: "), message
    assert "nothing extracted" in message and reason in message, message
    if member is not None:
        assert repr(member) in message, message
    assert _snapshot(root) == before
    return message


# (members, the member named in the error, the reason it gives)
KIND_CASES = {
    "symlink-outside": ([_member("hdHand3d/l", "symlink", link="/etc/passwd")], "hdHand3d/l", "a symbolic link"),
    "symlink-inside": ([_member("hdHand3d/a.json"), _member("hdHand3d/l", "symlink", link="a.json")], "hdHand3d/l",
                       "a symbolic link"),
    "hardlink-outside": ([_member("hdHand3d/h", "hardlink", link="../outside.txt")], "hdHand3d/h", "a hard link"),
    "hardlink-inside": ([_member("hdHand3d/a.json"), _member("hdHand3d/h", "hardlink", link="hdHand3d/a.json")],
                        "hdHand3d/h", "a hard link"),
    "character-device": ([_member("hdHand3d/tty", "chardev")], "hdHand3d/tty", "a character device"),
    "block-device": ([_member("hdHand3d/sda", "blockdev")], "hdHand3d/sda", "a block device"),
    "fifo": ([_member("hdHand3d/pipe", "fifo")], "hdHand3d/pipe", "a FIFO"),
    "contiguous-file": ([_member("hdHand3d/c.json", "contiguous")], "hdHand3d/c.json", "a contiguous file"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(KIND_CASES))
def test_links_devices_and_other_member_kinds_are_refused(sequence, case):
    members, member, reason = KIND_CASES[case]
    _assert_refused(sequence, _tar(members), member, reason + ("" if "link" not in case else " to "))


def test_sparse_member_is_refused(sequence):
    archive = _tar([_member("hdHand3d/s.json", "sparse")], format=tarfile.GNU_FORMAT)
    _assert_refused(sequence, archive, "hdHand3d/s.json", "a sparse file")


def _cve_2025_4517_chain() -> list[tuple[tarfile.TarInfo, bytes]]:
    """The shape of the CVE-2025-4517 reproducer: folders with long names and symbolic links to them, chained until
    the resolved path exceeds PATH_MAX (where the vulnerable filter stopped resolving), a link that climbs out
    through the chain, a hard link to a file outside reached through it, a file written through that hard link (to
    overwrite the outside file) and a new file created outside."""
    long_name, steps, path, members = "d" * 247, "abcdefghijklmnop", "", []
    for step in steps:
        members.append(_member(os.path.join(path, long_name), "dir"))
        members.append(_member(os.path.join(path, step), "symlink", link=long_name))
        path = os.path.join(path, long_name)
    climb = os.path.join(*steps, "l" * 254)
    members.append(_member(climb, "symlink", link="../" * len(steps)))
    members.append(_member("escape", "symlink", link=climb + "/../../../.."))
    members.append(_member("overwrite", "hardlink", link="escape/outside.txt"))
    members.append(_member("overwrite", data=b"overwritten"))
    members.append(_member("escape/created.txt", data=b"created"))
    return members


def test_cve_2025_4517_symlink_chain_overwrites_and_creates_nothing_outside(sequence):
    _assert_refused(sequence, _tar(_cve_2025_4517_chain()), "d" * 247, "only regular files and folders")
    root = sequence.parents[1]
    assert (root / "outside.txt").read_text() == "outside" and not (root / "created.txt").exists()


NAME_CASES = {
    "absolute": ("/tmp/evil.json", "an absolute path"),
    "windows-drive": ("C:/evil.json", "an absolute path"),
    "parent": ("../escape.txt", "a '..' component"),
    "parent-inside": ("hdHand3d/../../escape.txt", "a '..' component"),
    "parent-staying-inside": ("hdHand3d/../hdHand3d/x.json", "a '..' component"),
    "backslash": ("..\\escape.txt", "a backslash"),
}


@pytest.mark.parametrize("case", sorted(NAME_CASES))
def test_absolute_and_climbing_member_names_are_refused(sequence, case):
    name, reason = NAME_CASES[case]
    _assert_refused(sequence, _tar([_member(name)]), name, reason)


PROTECTED_CASES = {
    "calibration": (f"calibration_{SEQUENCE}.json", f"the downloaded file calibration_{SEQUENCE}.json"),
    "other-archive": ("hdPose3d_stage1_coco19.tar", "the downloaded file hdPose3d_stage1_coco19.tar"),
    "its-own-archive": ("hdHand3d.tar", "the downloaded file hdHand3d.tar"),
    "completion-marker": ("hdPose3d_stage1_coco19.tar.complete", "a completion marker"),
    "any-complete": ("x.complete", "a completion marker"),
    "nested-part": ("hdHand3d/x.part", "a partial download"),
    "openpose": ("openpose/hd_00_00/hd_00_00_000000000001_keypoints.json", "your OpenPose output"),
    "videos": ("hdVideos/hd_00_00.mp4", "the downloaded folder hdVideos"),
    "other-archive-folder": ("hdPose3d_stage1_coco19/a.json", "the folder hdPose3d_stage1_coco19 unpacked from"),
    "staging-folder": (".hdPose3d_stage1_coco19.tar.extracting/a.json", "the staging folder"),
    "user-file": ("notes.txt", "the file notes.txt already there"),
    "user-folder": ("mine/x.json", "the folder mine already there"),
}


@pytest.mark.parametrize("case", sorted(PROTECTED_CASES))
def test_member_may_not_overwrite_verified_files_markers_or_user_folders(sequence, case):
    name, reason = PROTECTED_CASES[case]
    _assert_refused(sequence, _tar([_member("hdHand3d/ok.json"), _member(name, data=b"overwritten")]), name, reason)


STRUCTURE_CASES = {
    "duplicate": (["hdHand3d/a.json", "hdHand3d/a.json"], "hdHand3d/a.json", "appears twice"),
    "duplicate-spelled-differently": (["hdHand3d/a.json", "./hdHand3d//a.json"], "./hdHand3d//a.json",
                                      "appears twice"),
    "inside-a-file": (["hdHand3d/a", "hdHand3d/a/b.json"], "hdHand3d/a/b.json", "inside the file member"),
    "file-over-a-folder": (["hdHand3d/a/b.json", "hdHand3d/a"], "hdHand3d/a", "earlier members lie inside it"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_duplicate_and_clashing_members_are_refused(sequence, case):
    names, member, reason = STRUCTURE_CASES[case]
    _assert_refused(sequence, _tar([_member(name) for name in names]), member, reason)


def test_more_members_than_the_cap_are_refused(sequence):
    members = [_member(f"hdHand3d/{k}.json") for k in range(6)]
    limits = download_panoptic.ExtractLimits(max_bytes=1 << 20, max_members=5)
    _assert_refused(sequence, _tar(members), "hdHand3d/5.json", "more than 5 members (--max-members)", limits)


def test_more_declared_bytes_than_the_cap_are_refused(sequence):
    members = [_member(f"hdHand3d/{k}.json", data=b"1" * size) for k, size in enumerate([1000, 1000, 5000])]
    limits = download_panoptic.ExtractLimits(max_bytes=4000, max_members=100)
    message = _assert_refused(sequence, _tar(members), "hdHand3d/2.json", "more than 4000 bytes", limits)
    assert "member 'hdHand3d/2.json' refused" in message and "its members hold" in message


def test_headers_past_the_byte_cap_are_not_read(sequence):
    members = [_member(f"hdHand3d/{k}.json", data=b"1" * 1000) for k in range(3)]
    limits = download_panoptic.ExtractLimits(max_bytes=2500, max_members=100)
    message = _assert_refused(sequence, _tar(members), "hdHand3d/1.json", "it holds more than 2500 bytes", limits)
    assert message.startswith(f"{ARCHIVE}: refused at member 'hdHand3d/1.json'")


def _compressed_zeros_tar(compression: str) -> bytes:
    """A tar of one all-zero member of BOMB_BYTES, compressed: a few hundred bytes on disk named ``.tar``."""
    info = tarfile.TarInfo("hdHand3d/zeros.json")
    info.size = BOMB_BYTES
    stream = info.tobuf(tarfile.PAX_FORMAT) + b"\0" * (BOMB_BYTES + 2 * tarfile.BLOCKSIZE)
    return {"bz2": bz2.compress, "gz": lambda data: zlib.compress(data, 9, wbits=31), "xz": lzma.compress}[
        compression
    ](stream)


@pytest.mark.parametrize("compression", ["bz2", "gz", "xz"])
def test_compression_bomb_named_tar_stops_early_with_the_default_caps(sequence, compression):
    archive = _compressed_zeros_tar(compression)
    assert len(archive) * 200 < BOMB_BYTES
    _assert_refused(sequence, archive, "hdHand3d/zeros.json", f"more than 200 times its {len(archive)} bytes")


def test_bzip2_bomb_is_refused_by_a_lowered_byte_cap_before_its_data_is_read(sequence):
    limits = download_panoptic.ExtractLimits(max_bytes=1 << 20, max_members=10, max_expansion=1 << 30)
    message = _assert_refused(sequence, _compressed_zeros_tar("bz2"), "hdHand3d/zeros.json",
                              "its members hold more than 1048576 bytes", limits)  # fmt: skip
    assert "member 'hdHand3d/zeros.json' refused" in message


def test_long_name_header_beyond_the_cap_stops_reading_though_no_member_declares_a_size(sequence):
    """A GNU long-name header is read whole by tarfile: the cap must bound what is read, not only member sizes."""
    long_name = tarfile.TarInfo("././@LongLink")
    long_name.type, long_name.size = tarfile.GNUTYPE_LONGNAME, 100_000
    stream = long_name.tobuf(tarfile.GNU_FORMAT) + b"a" * 100_352 + _tar([_member("hdHand3d/x.json")])
    limits = download_panoptic.ExtractLimits(max_bytes=50_000, max_members=10)
    message = _assert_refused(sequence, stream, None, "it holds more than 50000 bytes (--max-extract-bytes)", limits)
    assert "refused at its first header" in message


def test_a_well_formed_archive_replaces_its_own_unfinished_folder_and_nothing_else(sequence):
    (sequence / "hdHand3d").mkdir()
    (sequence / "hdHand3d" / "stale.json").write_text("from an interrupted run")
    members = [_member(".", "dir"), _member("./hdHand3d", "dir"), _member("./hdHand3d/handRecon3D_hd00000001.json")]
    (sequence / ARCHIVE).write_bytes(_tar(members))
    before = _snapshot(sequence)
    assert download_panoptic.extract(sequence / ARCHIVE, sequence) == ["hdHand3d"]
    after = _snapshot(sequence)
    assert sorted(name for name in after if name.startswith("hdHand3d/")) == ["hdHand3d/handRecon3D_hd00000001.json"]
    assert {k: v for k, v in after.items() if not k.startswith("hdHand3d")} == {
        k: v for k, v in before.items() if not k.startswith("hdHand3d")
    }


# The download as main runs it, with the network replaced by files served from a dict.


def _serve(monkeypatch, archives: dict[str, bytes]) -> None:
    files = {f"calibration_{SEQUENCE}.json": b'{"cameras": []}', **archives}

    def download(url, target, *args):
        if target.name not in files:
            raise download_panoptic.urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        part = download_panoptic.part_path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(files[target.name])
        return part

    monkeypatch.setattr(download_panoptic, "download", download)


def _main(*argv: str) -> int:
    try:
        return download_panoptic.main(list(argv))
    except SystemExit as exited:
        return exited.code


def test_hostile_download_fails_on_one_line_and_keeps_no_partial_file(tmp_path, monkeypatch, capsys):
    good_body = _tar([_member("hdPose3d_stage1_coco19/body3DScene_00000001.json")])
    _serve(monkeypatch, {"hdPose3d_stage1_coco19.tar": good_body,
                         ARCHIVE: _tar([_member("hdHand3d/l", "symlink", link="/etc/passwd")])})  # fmt: skip
    assert _main("--sequences", SEQUENCE, "--out", str(tmp_path / "out")) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(f"{SEQUENCE}/{ARCHIVE}: FAILED: {ARCHIVE}: member 'hdHand3d/l' refused")
    assert len(errors) == 2 and "Traceback" not in "".join(errors)
    folder = tmp_path / "out" / SEQUENCE
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        f"calibration_{SEQUENCE}.json", f"calibration_{SEQUENCE}.json.complete", "hdPose3d_stage1_coco19",
        "hdPose3d_stage1_coco19.tar", "hdPose3d_stage1_coco19.tar.complete"])  # fmt: skip


def test_cap_flags_override_the_per_archive_limits(tmp_path, monkeypatch, capsys):
    body = _tar([_member("hdPose3d_stage1_coco19", "dir"), _member("hdPose3d_stage1_coco19/0.json", data=b"1" * 3000)])
    _serve(monkeypatch, {"hdPose3d_stage1_coco19.tar": body})
    out = str(tmp_path / "out")
    assert _main("--sequences", SEQUENCE, "--out", out, "--max-extract-bytes", "2K") == 1
    assert "its members hold more than 2048 bytes (--max-extract-bytes)" in capsys.readouterr().err
    assert _main("--sequences", SEQUENCE, "--out", out, "--max-members", "1") == 1
    assert "more than 1 members (--max-members)" in capsys.readouterr().err
    assert _main("--sequences", SEQUENCE, "--out", out) == 0


@pytest.mark.parametrize("name", ["../../x", "..", ".", "a/b", "x y", "/abs"])
def test_sequence_names_that_are_not_plain_names_are_refused_and_nothing_is_created(tmp_path, capsys, name):
    assert _main("--sequences", name, "--out", str(tmp_path / "out")) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: argument --sequences:") and repr(name) in error
    assert list(tmp_path.iterdir()) == []


def test_bad_name_in_the_sequence_list_names_the_file_and_line(tmp_path, capsys):
    (tmp_path / "list.txt").write_text(f"{SEQUENCE}\n# a comment\n../../x  # climbs out\n")
    assert _main("--list", str(tmp_path / "list.txt"), "--out", str(tmp_path / "out")) == 2
    assert capsys.readouterr().err == (
        "error: list.txt: line 3 must be a sequence name like 171204_pose1 (letters, digits, _ . -), got '../../x'\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.txt"]


def test_sequence_folder_linked_out_of_the_download_folder_is_refused(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / SEQUENCE).symlink_to(tmp_path / "elsewhere")
    assert _main("--sequences", SEQUENCE, "--out", str(tmp_path / "out"), "--dry-run") == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {SEQUENCE}/calibration_{SEQUENCE}.json: must stay inside --out") and "\n" not in (
        error.rstrip("\n")
    )
    assert list((tmp_path / "elsewhere").iterdir()) == []


BAD_FLAGS = {
    "retries-negative": (["--retries", "-1"], "argument --retries: must be an integer >= 0, got '-1'"),
    "retries-word": (["--retries", "two"], "argument --retries: must be an integer >= 0, got 'two'"),
    "timeout-zero": (["--timeout", "0"], "argument --timeout: must be a number > 0, got '0'"),
    "backoff-nan": (["--backoff", "nan"], "argument --backoff: must be a number >= 0, got 'nan'"),
    "max-members-zero": (["--max-members", "0"], "argument --max-members: must be an integer >= 1, got '0'"),
    "max-bytes-unit": (["--max-extract-bytes", "3Q"], "argument --max-extract-bytes: must be a positive byte"),
    "base-url-scheme": (["--base-url", "file:///etc"], "argument --base-url: must be an http:// or https://"),
    "unknown-flag": (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    "sha256-missing": (["--sha256", "{tmp}/none.txt"], "No such file or directory"),
    "sha256-malformed": (["--sha256", "{tmp}/sums.txt"], "sums.txt: line 1 must read"),
    "list-not-text": (["--list", "{tmp}/binary.txt"], "binary.txt: must be UTF-8 text"),
    "out-is-a-file": (["--out", "{tmp}/a_file"], "must be a folder, got a file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_flag_or_file_is_one_error_line_with_exit_status_two(tmp_path, capsys, case):
    (tmp_path / "sums.txt").write_text("not a checksum line\n")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "a_file").write_text("")
    argv, expected = BAD_FLAGS[case]
    argv = [argument.format(tmp=tmp_path) for argument in argv]
    sequences = [] if "--list" in argv else ["--sequences", SEQUENCE]
    assert _main(*sequences, "--dry-run", "--out", str(tmp_path / "out"), *argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert expected in captured.err and captured.out == ""


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        download_panoptic.main(["--list", str(tmp_path / "none.txt"), "--debug"])


def test_script_process_exits_with_status_two_and_no_traceback(tmp_path):
    script = SCRIPTS / "download_panoptic.py"
    done = subprocess.run([sys.executable, str(script), "--sequences", "../../x", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: argument --sequences:") and done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


class _Response(io.BytesIO):
    """What ``urlopen`` returns, for a whole file: status 200 and its Content-Length."""

    status = 200

    def __init__(self, body: bytes):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


def test_progress_bars_write_nothing_to_a_log_that_is_not_a_terminal(tmp_path, monkeypatch, capsys):
    body = b"\0" * (64 * download_panoptic.CHUNK_BYTES)
    monkeypatch.setattr(download_panoptic.urllib.request, "urlopen", lambda request, timeout: _Response(body))
    part = download_panoptic.download("http://example.invalid/hd_00_00.mp4", tmp_path / "hd_00_00.mp4")
    assert part.read_bytes() == body
    assert capsys.readouterr().err == ""
