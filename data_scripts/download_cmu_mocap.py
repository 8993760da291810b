#!/usr/bin/env python
"""Download CMU motion-capture trials (ASF skeletons and AMC motions) for ``--motion cmu:<folder>``.

Addresses are those of the database's own pages: ``<base url>/<SS>/<SS>_<TT>.amc`` for trial TT of subject SS and
``<base url>/<SS>/<SS>.asf`` for the subject's skeleton, saved flat in ``--out`` under the same names (the layout
``weakpose_lite.data.synthetic.captured`` reads). Only these plain-text files are fetched, never an archive, so
nothing is unpacked. Each file, like the Panoptic ones (``download_panoptic.py``, whose transfer code this reuses):

- is fetched into ``<name>.part``, resumed with an HTTP Range request after an interruption and retried with
  exponential back-off, but not after 404/403;
- is treated as hostile until checked: at most ``--max-bytes`` (64 MiB: a generous bound, not measured on the server), ASCII
  text, and the section an ASF or AMC file must have (``:bonedata``/``:hierarchy``; ``:DEGREES`` and frame ``1``);
  its SHA-256 when ``--sha256`` lists it. A file that fails is deleted and reported on one line;
- gets its final name only after the checks, marked finished by ``<name>.complete``, never fetched again.

The kit's reader (``weakpose_lite.data.formats.acclaim``) parses every number when the dataset is built. Only the
standard library and tqdm, so it runs before the kit is installed. The data is free to use, modify and
redistribute, not to resell as such (the database's terms as commonly quoted from mocap.cs.cmu.edu; cite the
database, created with NSF grant EIA-0196217).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from download_panoptic import (
    OneLineParser,
    _base_url,
    _byte_count,
    _number,
    command,
    download,
    fetch_each,
    marker_path,
    read_checksums,
    sha256_of,
)

BASE_URL = "http://mocap.cs.cmu.edu/subjects"
DEFAULT_LIST = Path(__file__).with_name("cmu_trials.txt")
MAX_BYTES = 64 << 20
TRIAL_NAME = re.compile(r"(\d{2,3})_(\d{2,3})")
# What each kind of file must hold to be worth keeping: section keywords (case-insensitive) on lines of their own.
REQUIRED_SECTIONS = {".asf": (":bonedata", ":hierarchy"), ".amc": (":degrees", "1")}


@dataclass(frozen=True)
class Item:
    """One file to fetch: its address, where it goes, and its name in SHA-256 lists (``<SS>/<file>``)."""

    url: str
    target: Path
    key: str


def check_trial_name(name: str, where: str) -> str:
    """``"02_01"``, or a one-line ValueError naming ``where``."""
    if TRIAL_NAME.fullmatch(name) is None:
        raise ValueError(f"{where}: a trial must be <subject>_<trial> in digits, e.g. 02_01, got {name!r}")
    return name


def read_trial_list(path: Path) -> list[str]:
    """Trial names from a text file, one per line, ``#`` starting a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as a trial list ({error})") from None
    names = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(check_trial_name(name, f"{path.name}: line {number}"))
    return names


def plan(trials: list[str], out: Path, base_url: str = BASE_URL) -> list[Item]:
    """Each trial's AMC and, once per subject, its ASF, in the order given."""
    items, subjects = [], []
    for trial in dict.fromkeys(trials):
        subject = TRIAL_NAME.fullmatch(trial)[1]
        if subject not in subjects:
            subjects.append(subject)
            items.append(_item(base_url, out, subject, f"{subject}.asf"))
        items.append(_item(base_url, out, subject, f"{trial}.amc"))
    return items


def _item(base_url: str, out: Path, subject: str, name: str) -> Item:
    return Item(f"{base_url.rstrip('/')}/{subject}/{name}", out / name, f"{subject}/{name}")


def verify(path: Path, name: str, expected_sha256: str | None = None, max_bytes: int = MAX_BYTES) -> None:
    """Refuse a file that is too large, not ASCII text, lacks its kind's sections, or has another SHA-256."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{name}: must be at most {max_bytes} bytes (--max-bytes), got {size}")
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: must be ASCII text, got byte {error.object[error.start]:#x} at {error.start} "
                         f"(an error page or a binary file?)") from None  # fmt: skip
    lines = {line.strip().lower() for line in text.splitlines()}
    missing = [section for section in REQUIRED_SECTIONS[Path(name).suffix] if section not in lines]
    if missing:
        raise ValueError(f"{name}: must hold a line {missing[0]!r}, as every CMU {Path(name).suffix} file does")
    if expected_sha256 is not None and sha256_of(path) != expected_sha256:
        raise ValueError(f"{name}: SHA-256 must be {expected_sha256}, got {sha256_of(path)}")


def fetch(item: Item, checksums: dict[str, str], max_bytes: int, retries: int, backoff: float, timeout: float) -> str:
    """Download, verify and mark one item, unless it is already marked; returns what happened."""
    marker = marker_path(item.target)
    if marker.exists():
        return "already complete"
    expected = checksums.get(item.key)
    if item.target.exists():
        try:
            verify(item.target, item.target.name, expected, max_bytes)
        except ValueError as error:
            raise ValueError(f"{error}; {item.target} was there before this run: delete it to download it again") from error
        outcome = "verified existing file"
    else:
        part = download(item.url, item.target, retries, backoff, timeout)
        try:
            verify(part, item.target.name, expected, max_bytes)
        except ValueError:
            part.unlink()
            raise
        os.replace(part, item.target)
        outcome = "downloaded"
    marker.write_text(json.dumps({"url": item.url, "bytes": item.target.stat().st_size}) + "\n")
    return outcome


def _trial_argument(text: str) -> str:
    try:
        return check_trial_name(text, "each trial")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--trials", nargs="+", metavar="TRIAL", type=_trial_argument, help="trials, e.g. 02_01 09_01")
    chosen.add_argument("--list", type=Path, help=f"file of trial names, one per line (default {DEFAULT_LIST.name})")
    parser.add_argument("--out", type=Path, default=Path("data/generated/cmu_mocap"), help="download folder")
    parser.add_argument("--base-url", type=_base_url, default=BASE_URL, help="the database's subjects/ address or a mirror")
    parser.add_argument("--sha256", type=Path, help="sha256sum-style list '<hex>  <SS>/<file>' to check against")
    parser.add_argument("--max-bytes", type=_byte_count, default=MAX_BYTES, metavar="BYTES",
                        help="largest file accepted, e.g. 64M (default)")  # fmt: skip
    parser.add_argument("--retries", type=_number(int, 0, True), default=5, help="retries per file after a transient failure")
    parser.add_argument("--backoff", type=_number(float, 0, True), default=2.0,
                        help="first retry delay in seconds, doubled each time")  # fmt: skip
    parser.add_argument("--timeout", type=_number(float, 0, False), default=60.0, help="seconds without data before a try fails")
    parser.add_argument("--dry-run", action="store_true", help="print what would be fetched, fetch nothing")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser.parse_args(argv)


def run(arguments: argparse.Namespace) -> int:
    """Fetch every file of every trial asked for; 1 when some file failed (each reported on one line)."""
    trials = arguments.trials or read_trial_list(arguments.list or DEFAULT_LIST)
    checksums = read_checksums(arguments.sha256) if arguments.sha256 else {}

    def fetch_one(item: Item) -> str:
        return fetch(item, checksums, arguments.max_bytes, arguments.retries, arguments.backoff, arguments.timeout)

    return fetch_each(plan(trials, arguments.out, arguments.base_url), fetch_one, arguments.dry_run, arguments.debug)


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when every file is done, 1 when some failed, 2 for a bad flag, list or checksum file."""
    return command(run, parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
