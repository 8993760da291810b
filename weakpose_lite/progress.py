"""Progress bars that suit where the output goes: a widget in a notebook, a live bar in a terminal, a few lines in a log.

tqdm redraws a bar up to ten times a second; written to a file or a pipe (CI, ``nohup``, a SLURM log) each redraw is
a new line, thousands per run. Outside a terminal and a notebook, bars here redraw at most once a minute.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

LOG_INTERVAL_S = 60.0


def progress_bar(*args, **kwargs) -> tqdm:
    """``tqdm.auto.tqdm(*args, **kwargs)``, redrawn at most every ``LOG_INTERVAL_S`` when stderr is not a terminal."""
    if not _interactive():
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return tqdm(*args, **kwargs)


def _interactive() -> bool:
    """True in a terminal or a Jupyter kernel (where tqdm.auto draws a widget)."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules
