#!/usr/bin/env python
"""Download CMU Panoptic sequences: calibration, 3D body and 3D hand archives, and (optionally) the 31 HD videos.

Addresses are those of panoptic-toolbox's ``scripts/getData.sh``: ``<base url>/<seq>/calibration_<seq>.json``,
``<base url>/<seq>/hdPose3d_stage1_coco19.tar``, ``<base url>/<seq>/hdHand3d.tar`` and
``<base url>/<seq>/videos/hd_shared_crf20/hd_00_<node>.mp4``. The server is often slow or down, so each file is:

- fetched into ``<name>.part`` and resumed with an HTTP Range request after an interruption;
- retried with exponential back-off (transient failures), but not after 404/403 (the file does not exist);
- verified before it gets its final name: its size against Content-Length, a tar archive read through to the end,
  a JSON file parsed, and its SHA-256 when ``--sha256`` lists it;
- unpacked, for a tar, with ``tarfile``'s ``"data"`` filter, which refuses members that would land outside the
  sequence folder (``../``, absolute links), through a staging folder renamed into place;
- marked finished by ``<name>.complete``; a finished file is never fetched or unpacked again.

Only the standard library and tqdm, so it runs before the kit (and PyTorch) is installed. Panoptic data is for
non-commercial research only (panoptic-toolbox README).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

BASE_URL = "http://domedb.perception.cs.cmu.edu/webdata/dataset"
DEFAULT_LIST = Path(__file__).with_name("sequences.txt")
HD_NODES = range(31)
CHUNK_BYTES = 1 << 16
PERMANENT_HTTP_CODES = (403, 404, 410)


class DownloadError(Exception):
    """A download that failed in a way worth retrying (cut short, wrong size, server error)."""


@dataclass(frozen=True)
class Item:
    """One file to fetch: its address, where it goes, its name in SHA-256 lists (``<seq>/<relative path>``), whether
    it is a tar to unpack, and whether it may be absent from the server."""

    url: str
    target: Path
    key: str
    extract: bool = False
    optional: bool = False


def sequence_items(sequence: str, out: Path, base_url: str = BASE_URL, with_videos: bool = False) -> list[Item]:
    """The files of one sequence, addressed as getData.sh does; hands are optional (not every sequence has them)."""
    remote = f"{base_url.rstrip('/')}/{sequence}"
    # (remote path under <base>/<seq>/, local path under <out>/<seq>/, is a tar, may be absent)
    files = [
        (f"calibration_{sequence}.json", f"calibration_{sequence}.json", False, False),
        ("hdPose3d_stage1_coco19.tar", "hdPose3d_stage1_coco19.tar", True, False),
        ("hdHand3d.tar", "hdHand3d.tar", True, True),
    ]
    if with_videos:
        files += [(f"videos/hd_shared_crf20/hd_00_{node:02d}.mp4", f"hdVideos/hd_00_{node:02d}.mp4", False, False)
                  for node in HD_NODES]  # fmt: skip
    return [Item(f"{remote}/{path}", out / sequence / local, f"{sequence}/{local}", extract, optional)
            for path, local, extract, optional in files]  # fmt: skip


def read_sequence_list(path: Path) -> list[str]:
    """Sequence names from a text file, one per line, ``#`` starting a comment."""
    names = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [name for name in names if name]


def read_checksums(path: Path) -> dict[str, str]:
    """``<seq>/<file>`` -> SHA-256 from a ``sha256sum``-style file (``<hex>  <seq>/<file>`` per line)."""
    checksums = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            match = re.fullmatch(r"([0-9a-fA-F]{64})\s+\*?(\S+)", line.strip())
            if match is None:
                raise ValueError(f"{path.name}: line {number} must read '<64 hex digits>  <seq>/<file>', got {line!r}")
            checksums[match[2]] = match[1].lower()
    return checksums


def marker_path(target: Path) -> Path:
    """The file whose presence says ``target`` is downloaded, verified and unpacked."""
    return target.with_name(target.name + ".complete")


def part_path(target: Path) -> Path:
    """The partial download of ``target``."""
    return target.with_name(target.name + ".part")


def download_once(url: str, part: Path, timeout: float) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size; raise DownloadError if cut short."""
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:
            part.unlink()  # the partial file does not fit the server's file any more: start over
            raise DownloadError(f"{part.name}: server refused to resume (416), starting over") from error
        raise
    with response:
        if response.status == 206:
            total = _content_range_total(response.headers.get("Content-Range", ""), start, part.name)
        else:
            start, length = 0, response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        with open(part, "ab" if start else "wb") as handle, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=part.name[: -len(".part")], disable=None
        ) as bar:
            while chunk := response.read(CHUNK_BYTES):
                handle.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{part.name}: got {size} of {total} bytes")


def _content_range_total(header: str, start: int, name: str) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", header.strip())
    if match is None or int(match[1]) != start:
        raise DownloadError(f"{name}: asked to resume at byte {start}, server answered Content-Range {header!r}")
    return None if match[2] == "*" else int(match[2])


def download(url: str, target: Path, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``target``'s ``.part``, retrying after ``backoff · 2^attempt`` s; returns the part."""
    part = part_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        try:
            download_once(url, part, timeout)
            return part
        except urllib.error.HTTPError as error:
            if error.code in PERMANENT_HTTP_CODES or attempt == retries:
                raise
            problem = f"HTTP {error.code}"
        except (DownloadError, urllib.error.URLError, http.client.HTTPException, OSError) as error:
            if attempt == retries:
                raise
            problem = str(error) or type(error).__name__
        delay = backoff * 2**attempt
        print(f"{target.name}: {problem}; retry {attempt + 1}/{retries} in {delay:.0f} s", file=sys.stderr)
        time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def verify(path: Path, name: str, expected_sha256: str | None = None) -> None:
    """Refuse a damaged file: an unreadable tar, malformed JSON, or a SHA-256 other than ``expected_sha256``."""
    if name.endswith(".tar"):
        _verify_tar(path, name)
    elif name.endswith(".json"):
        try:
            json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{name}: not valid JSON ({error})") from error
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise ValueError(f"{name}: SHA-256 must be {expected_sha256}, got {actual}")


def _verify_tar(path: Path, name: str) -> None:
    """Read every member of a tar to its end, so a truncated or corrupted archive fails here, not halfway through."""
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile():
                    with archive.extractfile(member) as handle:
                        while handle.read(CHUNK_BYTES):
                            pass
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{name}: damaged tar archive ({error})") from error


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def extract(archive: Path, destination: Path) -> list[str]:
    """Unpack a tar into ``destination`` with the ``"data"`` filter (nothing lands outside it); returns top names.

    Members go to a staging folder first, then each top-level entry is renamed into place, so an interrupted
    extraction never leaves a half-filled folder under its final name.
    """
    staging = destination / f".{archive.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    except tarfile.FilterError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ValueError(f"{archive.name}: unsafe member refused, nothing extracted ({error})") from error
    names = sorted(entry.name for entry in staging.iterdir())
    for name in names:
        target = destination / name
        if target.is_dir():
            shutil.rmtree(target)  # an unfinished earlier extraction: the archive has no completion marker yet
        os.replace(staging / name, target)
    staging.rmdir()
    return names


def fetch(item: Item, checksums: dict[str, str], retries: int = 5, backoff: float = 2.0, timeout: float = 60.0) -> str:
    """Download, verify, unpack and mark one item, unless it is already marked; returns what happened."""
    marker = marker_path(item.target)
    if marker.exists():
        return "already complete"
    expected = checksums.get(item.key)
    if item.target.exists():
        try:
            verify(item.target, item.target.name, expected)
        except ValueError as error:
            message = f"{error}; {item.target} was there before this run: delete it to download it again"
            raise ValueError(message) from error
        outcome = "verified existing file"
    else:
        try:
            part = download(item.url, item.target, retries, backoff, timeout)
        except urllib.error.HTTPError as error:
            if item.optional and error.code in PERMANENT_HTTP_CODES:
                return f"not on the server (HTTP {error.code}), skipped"
            raise
        try:
            verify(part, item.target.name, expected)
        except ValueError:
            part.unlink()  # damaged content would only be resumed onto: fetch it whole next time
            raise
        os.replace(part, item.target)
        outcome = "downloaded"
    extracted = extract(item.target, item.target.parent) if item.extract else []
    record = {"url": item.url, "bytes": item.target.stat().st_size, "extracted": extracted}
    marker.write_text(json.dumps(record) + "\n")
    return outcome


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--sequences", nargs="+", metavar="SEQ", help="sequence names, e.g. 171204_pose1")
    chosen.add_argument("--list", type=Path, help=f"file of sequence names, one per line (default {DEFAULT_LIST.name})")
    parser.add_argument("--out", type=Path, default=Path("data/generated/panoptic"), help="download folder")
    parser.add_argument("--base-url", default=BASE_URL, help="dataset web root (getData.sh's address or a mirror)")
    parser.add_argument("--with-videos", action="store_true", help="also fetch the 31 HD videos (about 1 GB each)")
    parser.add_argument("--sha256", type=Path, help="sha256sum-style list '<hex>  <seq>/<file>' to check against")
    parser.add_argument("--retries", type=int, default=5, help="retries per file after a transient failure")
    parser.add_argument("--backoff", type=float, default=2.0, help="first retry delay in seconds, doubled each time")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a try fails")
    parser.add_argument("--dry-run", action="store_true", help="print what would be fetched, fetch nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Fetch every item of every sequence asked for; returns the process exit status."""
    arguments = parse_arguments(argv)
    sequences = arguments.sequences or read_sequence_list(arguments.list or DEFAULT_LIST)
    checksums = read_checksums(arguments.sha256) if arguments.sha256 else {}
    items = [
        item
        for sequence in sequences
        for item in sequence_items(sequence, arguments.out, arguments.base_url, arguments.with_videos)
    ]
    failures = 0
    for item in items:
        if arguments.dry_run:
            state = " (already complete)" if marker_path(item.target).exists() else ""
            print(f"GET {item.url} -> {item.target}{state}")
            continue
        try:
            print(f"{item.key}: {fetch(item, checksums, arguments.retries, arguments.backoff, arguments.timeout)}")
        except (ValueError, OSError, urllib.error.URLError, http.client.HTTPException, DownloadError) as error:
            failures += 1
            print(f"{item.key}: FAILED: {error}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(items)} files failed; run again to resume", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
