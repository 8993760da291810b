"""Progress: a tqdm bar in a terminal or a notebook, whole lines in a log (a few, or one per epoch when asked)."""

import io
import re
import sys

import pytest
from tqdm.auto import tqdm

from weakpose_lite import progress

LINE = re.compile(r"^(?P<desc>[^:]+): (?P<n>\d+)(/(?P<total>\d+))? (?P<unit>\w+)(?P<postfix>, .*)? \[\d+ s\]$")


@pytest.fixture
def in_a_log(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)


def test_a_long_loop_in_a_log_writes_one_whole_line_at_its_end(in_a_log):
    log = io.StringIO()
    assert sum(1 for _ in progress.progress_bar(range(100_000), desc="reading", unit="file", file=log)) == 100_000
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == ["reading: 100000/100000 file [0 s]"]


def test_a_log_gets_a_line_per_epoch_when_asked_with_the_postfix(in_a_log):
    log = io.StringIO()
    with progress.progress_bar(total=3, desc="strong", unit="epoch", log_each_update=True, file=log) as epochs:
        for epoch in range(3):
            epochs.update(1)
            epochs.set_postfix({"loss": f"{10 - epoch:.2f}"})
    lines = log.getvalue().splitlines()
    assert [LINE.match(line)["n"] for line in lines] == ["1", "2", "3"]
    assert lines[2].startswith("strong: 3/3 epoch, loss=9.00")


def test_two_bars_sharing_a_log_never_cut_each_others_lines(in_a_log):
    log = io.StringIO()
    first = progress.progress_bar(total=4, desc="strong", unit="epoch", log_each_update=True, file=log)
    second = progress.progress_bar(total=4, desc="weak", unit="epoch", log_each_update=True, file=log)
    for _ in range(4):
        first.update(1)
        second.update(1)
    first.close()
    second.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 8 and all(LINE.match(line) for line in lines)
    assert [line.split(":")[0] for line in lines] == ["strong", "weak"] * 4


def test_an_inner_bar_that_does_not_stay_writes_nothing_in_a_short_run(in_a_log):
    log = io.StringIO()
    for _ in progress.progress_bar(range(50), leave=False, desc="epoch 1", file=log):
        pass
    assert log.getvalue() == ""


def test_a_terminal_gets_tqdms_live_bar(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert isinstance(progress.progress_bar(range(3), file=io.StringIO()), tqdm)
