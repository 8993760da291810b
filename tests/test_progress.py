"""Progress bars: live in a terminal or a notebook, a few lines at most in a log file."""

import io
import sys

from weakpose_lite import progress


def test_a_bar_written_to_a_log_redraws_at_most_once_a_minute(monkeypatch):
    log = io.StringIO()
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    bar = progress.progress_bar(range(100_000), file=log)
    for _ in bar:
        pass
    bar.close()
    assert bar.mininterval == progress.LOG_INTERVAL_S
    assert log.getvalue().count("\r") + log.getvalue().count("\n") <= 4


def test_a_bar_in_a_terminal_keeps_tqdms_own_rate(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.progress_bar(range(3), file=io.StringIO()).mininterval == 0.1
