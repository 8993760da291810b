"""Progress that suits where the output goes: a widget in a notebook, a live bar in a terminal, whole lines in a log.

tqdm redraws a bar in place with carriage returns; written to a file or a pipe (CI, ``nohup``, a SLURM log) each
redraw is a new fragment, and two processes sharing the log cut into each other's lines. Off a terminal and a
notebook the kit therefore writes whole lines instead (``LogLines``): at most one every ``LOG_INTERVAL_S``, one per
update where the caller asks for it (an epoch), and one at the end. tqdm has no such mode, hence the small class.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

LOG_INTERVAL_S = 60.0


def progress_bar(iterable: Iterable | None = None, *, log_each_update: bool = False, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)`` in a terminal or a notebook, else ``LogLines`` (whole lines; with
    ``log_each_update`` a line per update, e.g. per epoch)."""
    if _interactive():
        return tqdm(iterable, **kwargs)
    return LogLines(iterable, log_each_update=log_each_update, **kwargs)


class LogLines:
    """A progress bar as whole lines, ``"desc: n/total unit, key=value ... [s]"``, each written at once (a line of
    one process is never cut by another's). Takes tqdm's arguments; those without meaning in a log are ignored."""

    def __init__(
        self, iterable: Iterable | None = None, total: int | None = None, desc: str = "", unit: str = "it",
        initial: int = 0, leave: bool = True, disable: bool = False, log_each_update: bool = False, file=None,
        **_tqdm_only,
    ):  # fmt: skip
        self.iterable, self.desc, self.unit, self.leave, self.disable = iterable, desc, unit, leave, disable
        self.total = total if total is not None or iterable is None else _length(iterable)
        self.n, self.postfix, self.log_each_update, self.file = initial, "", log_each_update, file
        self.started = self.last_line = time.perf_counter()
        self.logged_n: int | None = None

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, *_exception) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.log_each_update or time.perf_counter() - self.last_line >= LOG_INTERVAL_S:
            self._write_line()

    def set_postfix(self, values: dict | None = None, refresh: bool = True, **more) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in {**(values or {}), **more}.items())

    def close(self) -> None:
        if self.leave and self.logged_n != self.n:
            self._write_line()

    def _write_line(self) -> None:
        self.last_line = time.perf_counter()
        self.logged_n = self.n
        if self.disable:
            return
        total = f"/{self.total}" if self.total is not None else ""
        postfix = f", {self.postfix}" if self.postfix else ""
        line = f"{self.desc}: {self.n}{total} {self.unit}{postfix} [{self.last_line - self.started:.0f} s]\n"
        file = self.file if self.file is not None else sys.stderr
        file.write(line)
        file.flush()


def _length(iterable: Iterable) -> int | None:
    try:
        return len(iterable)
    except TypeError:
        return None


def _interactive() -> bool:
    """True in a terminal or a Jupyter kernel (where tqdm.auto draws a widget)."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules
