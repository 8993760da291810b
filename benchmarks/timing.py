"""What the benchmark scripts share: best-of timing, and printing their figures as a table or one line of JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable


def best_time(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(seconds of the fastest of ``repeats`` calls after one warm-up call, the last result): the least disturbed run."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def report(figures: dict, as_json: bool, print_table: Callable[[dict], None]) -> dict:
    """Print ``figures`` as one line of JSON (then the last line of the output) or with ``print_table``; return them."""
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return figures
