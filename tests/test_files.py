"""Atomic writes: a failed write keeps the old file and leaves no temporary; a killed writer's temporary is cleared."""

import os
import subprocess
import sys

import pytest

from weakpose_lite.files import atomic_path, remove_orphaned_parts, write_text_atomic


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["a.txt"]


def test_the_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "summary.json"
    # A writer killed by SIGKILL inside its write: its temporary stays behind.
    script = (
        "import os, signal, sys; from weakpose_lite.files import atomic_path\n"
        "with atomic_path(sys.argv[1]) as t:\n    t.write_text('half'); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(target)])
    assert killed.returncode == -9
    orphans = list(tmp_path.glob(".summary.json.*.part"))
    assert len(orphans) == 1 and not target.exists()
    write_text_atomic(target, "whole")
    assert target.read_text() == "whole"
    assert [path.name for path in tmp_path.iterdir()] == ["summary.json"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "b.txt"
    live = tmp_path / f".b.txt.{os.getpid()}.abc.part"
    live.write_text("in progress")
    assert remove_orphaned_parts(target) == []
    assert live.exists()


def test_written_files_get_the_usual_permissions(tmp_path):
    target = tmp_path / "c.txt"
    write_text_atomic(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
