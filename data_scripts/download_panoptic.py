#!/usr/bin/env python
"""Download CMU Panoptic sequences: calibration, 3D body and 3D hand archives, and (optionally) the 31 HD videos.

Addresses are those of panoptic-toolbox's ``scripts/getData.sh``: ``<base url>/<seq>/calibration_<seq>.json``,
``<base url>/<seq>/hdPose3d_stage1_coco19.tar``, ``<base url>/<seq>/hdHand3d.tar`` and
``<base url>/<seq>/videos/hd_shared_crf20/hd_00_<node>.mp4``. The server is often slow or down, so each file is:

- fetched into ``<name>.part`` and resumed with an HTTP Range request after an interruption;
- retried with exponential back-off (transient failures), but not after 404/403 (the file does not exist);
- verified before it gets its final name: its size against Content-Length, a tar archive read through to the end,
  a JSON file parsed, and its SHA-256 when ``--sha256`` lists it;
- unpacked, for a tar, only after every member has been checked (see ``member_problem``): regular files and folders
  only, relative names without ``..``, nothing that would replace a downloaded file, a marker, ``openpose/`` or
  ``hdVideos/``, and no more members or bytes than ``ARCHIVE_LIMITS`` allow (also while decompressing, so a
  compressed bomb named ``.tar`` stops early). ``tarfile``'s ``"data"`` filter stays as a second layer: Python 3.11
  before the fix of CVE-2025-4517 let a chain of symbolic links slip past it. Members go through a staging folder
  renamed into place;
- marked finished by ``<name>.complete``; a finished file is never fetched or unpacked again.

A bad flag, list or checksum file is one line ``error: ...`` and exit status 2 (``--debug`` shows the traceback); a
file that fails to download, verify or unpack is one line ``<seq>/<file>: FAILED: ...`` and exit status 1.

Only the standard library and tqdm, so it runs before the kit (and PyTorch) is installed. Panoptic data is for
non-commercial research only (panoptic-toolbox README).
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import hashlib
import http.client
import json
import lzma
import math
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from tqdm import tqdm

BASE_URL = "http://domedb.perception.cs.cmu.edu/webdata/dataset"
DEFAULT_LIST = Path(__file__).with_name("sequences.txt")
HD_NODES = range(31)
CHUNK_BYTES = 1 << 16
PERMANENT_HTTP_CODES = (403, 404, 410)
SEQUENCE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
USER_FOLDERS = {"openpose": "your OpenPose output"}


class DownloadError(Exception):
    """A download that failed in a way worth retrying (cut short, wrong size, server error)."""


class ArchiveTooLarge(Exception):
    """Raised from inside ``tarfile`` when reading goes past a limit; its own type, so tarfile lets it through."""


@dataclass(frozen=True)
class ExtractLimits:
    """The most one tar may hold: bytes of the uncompressed tar stream (headers included), members, and, when it is
    compressed, how many times its size on disk it may expand to."""

    max_bytes: int
    max_members: int
    max_expansion: int = 200


# Generous upper bounds, not measured on the server: the longest released sequence is 22.5 min (40,500 HD frames);
# with 10 people a body file is about 8 KB and a hand file about 15 KB a frame, so the archives should stay below
# 350 MB and 650 MB with one member per frame. Overridable with --max-extract-bytes and --max-members.
ARCHIVE_LIMITS = {
    "hdPose3d_stage1_coco19.tar": ExtractLimits(max_bytes=1 << 30, max_members=200_000),
    "hdHand3d.tar": ExtractLimits(max_bytes=2 << 30, max_members=200_000),
}
OTHER_ARCHIVE_LIMITS = ExtractLimits(max_bytes=1 << 30, max_members=200_000)
# Panoptic's archives are not compressed; a compressed one is read through, but may expand only max_expansion-fold.
DECOMPRESSORS = {
    b"\x1f\x8b": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    b"BZh": bz2.BZ2File,
    b"\xfd7zXZ\x00": lzma.LZMAFile,
}
DAMAGED = (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error)


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


def check_sequence_name(name: str, where: str) -> str:
    """``name`` if it is a plain folder name (letters, digits, ``_ . -``; not ``.`` or ``..``), else a ValueError."""
    if not SEQUENCE_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{where} must be a sequence name like 171204_pose1 (letters, digits, _ . -), got {name!r}")
    return name


def read_sequence_list(path: Path) -> list[str]:
    """Sequence names from a text file, one per line, ``#`` starting a comment."""
    names = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(check_sequence_name(name, f"{path.name}: line {number}"))
    return names


def read_checksums(path: Path) -> dict[str, str]:
    """``<seq>/<file>`` -> SHA-256 from a ``sha256sum``-style file (``<hex>  <seq>/<file>`` per line)."""
    checksums = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            match = re.fullmatch(r"([0-9a-fA-F]{64})\s+\*?(\S+)", line.strip())
            if match is None:
                raise ValueError(f"{path.name}: line {number} must read '<64 hex digits>  <seq>/<file>', got {line!r}")
            checksums[match[2]] = match[1].lower()
    return checksums


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name}: must be UTF-8 text, got byte {error.object[error.start]:#x} at {error.start}")


def plan(sequences: list[str], out: Path, base_url: str = BASE_URL, with_videos: bool = False) -> list[Item]:
    """Every item of every sequence; refuses a target that would resolve outside ``out`` (e.g. through a link)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} must be a folder, got a file")
    items = [item for sequence in sequences for item in sequence_items(sequence, out, base_url, with_videos)]
    root = out.resolve()
    for item in items:
        resolved = item.target.resolve()
        if not resolved.is_relative_to(root):
            raise ValueError(f"{item.key}: must stay inside --out {out}, but {item.target} resolves to {resolved}")
    return items


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
        # disable=None: no bar at all when stderr is not a terminal, so a log gets the one line per file of main.
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


def archive_limits(name: str, max_bytes: int | None = None, max_members: int | None = None) -> ExtractLimits:
    """The limits of the archive called ``name``, with the command line's overrides where given."""
    limits = ARCHIVE_LIMITS.get(name, OTHER_ARCHIVE_LIMITS)
    return replace(limits, max_bytes=max_bytes or limits.max_bytes, max_members=max_members or limits.max_members)


def verify(path: Path, name: str, expected_sha256: str | None = None, limits: ExtractLimits | None = None) -> None:
    """Refuse a damaged or unsafe file: a tar that cannot be read to its end or breaks a member rule of
    ``member_problem`` or ``limits``, malformed JSON, or a SHA-256 other than ``expected_sha256``."""
    if name.endswith(".tar"):
        _verify_tar(path, name, limits or archive_limits(name))
    elif name.endswith(".json"):
        try:
            json.loads(path.read_text())
        except (ValueError, RecursionError) as error:  # malformed, not UTF-8, 4,300+ digits, nested too deep
            raise ValueError(f"{name}: not valid JSON ({str(error).split(';')[0]})") from error
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise ValueError(f"{name}: SHA-256 must be {expected_sha256}, got {actual}")


def _verify_tar(path: Path, name: str, limits: ExtractLimits) -> None:
    """Read every member of a tar to its end, then its end-of-archive block, so a truncated or corrupted archive
    fails here, not halfway through."""
    with open_tar(path, name, limits) as archive:
        for member in checked_members(archive, name, limits):
            if member.isfile():
                with archive.extractfile(member) as handle:
                    while _read_chunk(handle, name, member):
                        pass
        _check_end(archive, name)


def _check_end(archive: tarfile.TarFile, name: str) -> None:
    """A tar ends with blocks of zeros after its last member (POSIX writes two). tarfile takes the end of the data
    for the end of the archive too, so a download cut exactly after a member would pass as complete: refused."""
    try:
        archive.fileobj.seek(archive.offset)
        end = archive.fileobj.read(tarfile.BLOCKSIZE)
    except DAMAGED as error:
        raise ValueError(f"{name}: damaged tar archive ({error})") from error
    if end != tarfile.NUL * tarfile.BLOCKSIZE:
        raise ValueError(f"{name}: incomplete tar archive: no end-of-archive block after its last member (the download "
                         f"was cut short?)")  # fmt: skip


def _read_chunk(handle, name: str, member: tarfile.TarInfo) -> bytes:
    try:
        return handle.read(CHUNK_BYTES)
    except ArchiveTooLarge as error:
        raise _refusal(name, f"refused while reading member {member.name!r}", str(error)) from None
    except DAMAGED as error:
        raise ValueError(f"{name}: damaged tar archive ({error})") from error


class BoundedStream:
    """A seekable byte stream that raises ArchiveTooLarge instead of reading or seeking past byte ``limit``.

    tarfile seeks over member data and reads long-name headers whole; on a compressed stream each of these
    decompresses, so bounding the position bounds the work and the memory, whatever the headers claim.
    """

    def __init__(self, stream, limit: int, why: str):
        self.stream, self.limit, self.why = stream, limit, why

    def read(self, size: int = -1) -> bytes:
        position = self.stream.tell()
        allowed = max(self.limit + 1 - position, 0)
        data = self.stream.read(allowed if size is None or size < 0 else min(size, allowed))
        if position + len(data) > self.limit:
            raise ArchiveTooLarge(self.why)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset + (self.stream.tell() if whence == os.SEEK_CUR else 0)
        if whence == os.SEEK_END or target > self.limit:
            raise ArchiveTooLarge(self.why)
        return self.stream.seek(target)

    def tell(self) -> int:
        return self.stream.tell()


@contextlib.contextmanager
def open_tar(path: Path, name: str, limits: ExtractLimits):
    """The tar at ``path`` (plain, gzip, bzip2 or xz) as a TarFile reading through a BoundedStream of ``limits``."""
    with open(path, "rb") as raw:
        magic, size = raw.read(6), os.fstat(raw.fileno()).st_size
        raw.seek(0)
        opener = next((opener for prefix, opener in DECOMPRESSORS.items() if magic.startswith(prefix)), None)
        limit, why = limits.max_bytes, f"it holds more than {limits.max_bytes} bytes (--max-extract-bytes)"
        if opener is not None and limits.max_expansion * size < limit:
            limit = limits.max_expansion * size
            why = f"it decompresses to more than {limits.max_expansion} times its {size} bytes"
        with opener(raw) if opener else contextlib.nullcontext(raw) as decompressed:
            with _open_bounded(BoundedStream(decompressed, limit, why), name) as archive:
                yield archive


def _open_bounded(stream: BoundedStream, name: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r:")
    except ArchiveTooLarge as error:
        raise _refusal(name, "refused at its first header", str(error)) from None
    except DAMAGED as error:
        raise ValueError(f"{name}: damaged tar archive ({error})") from error


def checked_members(archive: tarfile.TarFile, name: str, limits: ExtractLimits) -> list[tarfile.TarInfo]:
    """Every member of ``archive``, each checked by ``member_problem`` and against ``limits`` as soon as its header
    is read, before tarfile reads on: the first problem raises a ValueError naming the archive and the member."""
    members, seen, total_bytes = [], {}, 0
    try:
        for member in archive:
            total_bytes += member.size if member.isfile() else 0
            problem = member_problem(member, seen) or _limit_problem(len(members) + 1, total_bytes, limits)
            if problem:
                raise _refusal(name, f"member {member.name!r} refused", problem)
            members.append(member)
    except ArchiveTooLarge as error:
        where = f"refused at member {members[-1].name!r}" if members else "refused at its first header"
        raise _refusal(name, where, str(error)) from None
    except DAMAGED as error:
        raise ValueError(f"{name}: damaged tar archive ({error})") from error
    return members


def member_problem(member: tarfile.TarInfo, seen: dict[str, str]) -> str | None:
    """Why ``member`` may not be unpacked anywhere, or None. ``seen`` maps the normalised names of earlier members
    (and of the folders they imply) to "file", "folder" or "implied folder"; it is updated."""
    kind = _kind_problem(member)
    if kind:
        return kind
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "its name is an absolute path"
    if "\\" in name or "\0" in name:
        return "its name holds a backslash or a NUL byte"
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return "its name holds a '..' component"
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if seen.get(parent) == "file":
            return f"it would lie inside the file member {parent!r}"
        seen.setdefault(parent, "implied folder")
    normalised = "/".join(parts) or "."
    earlier = seen.get(normalised)
    if earlier == "implied folder" and member.isfile():
        return "it is a file, but earlier members lie inside it"
    if earlier in ("file", "folder"):
        return "it appears twice in the archive"
    seen[normalised] = "file" if member.isfile() else "folder"
    return None


def _kind_problem(member: tarfile.TarInfo) -> str | None:
    regular = member.type in (tarfile.REGTYPE, tarfile.AREGTYPE) and member.sparse is None
    if regular or member.isdir():
        return None
    kinds = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a character device",
             tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a FIFO", tarfile.CONTTYPE: "a contiguous file",
             tarfile.GNUTYPE_SPARSE: "a sparse file"}  # fmt: skip
    kind = "a sparse file" if member.sparse is not None else kinds.get(member.type, f"of type {member.type!r}")
    target = f" to {member.linkname!r}" if member.issym() or member.islnk() else ""
    return f"it is {kind}{target}; only regular files and folders are unpacked"


def _limit_problem(count: int, total_bytes: int, limits: ExtractLimits) -> str | None:
    if count > limits.max_members:
        return f"the archive holds more than {limits.max_members} members (--max-members)"
    if total_bytes > limits.max_bytes:
        return f"its members hold more than {limits.max_bytes} bytes (--max-extract-bytes)"
    return None


def _refusal(archive: str, where: str, reason: str) -> ValueError:
    return ValueError(f"{archive}: {where}, nothing extracted: {reason}")


def protected_names(sequence: str) -> dict[str, str]:
    """Top-level names of a sequence folder that no archive member may create or replace -> what they hold."""
    protected = dict(USER_FOLDERS)
    for item in sequence_items(sequence, Path(), with_videos=True):
        local = item.target.relative_to(sequence)
        if len(local.parts) > 1:
            protected[local.parts[0]] = f"the downloaded folder {local.parts[0]}"
            continue
        protected[local.name] = f"the downloaded file {local.name}"
        protected[marker_path(local).name] = f"the completion marker {marker_path(local).name}"
        protected[part_path(local).name] = f"the partial download {part_path(local).name}"
        if item.extract:
            protected[local.stem] = f"the folder {local.stem} unpacked from {local.name}"
            protected[_staging_name(local)] = f"the staging folder of {local.name}"
    return protected


def placement_problem(member: tarfile.TarInfo, own: str, destination: Path, protected: dict[str, str]) -> str | None:
    """Why unpacking ``member`` into ``destination`` would replace what it must not, or None; ``own`` is the folder
    its archive unpacks to (an earlier unfinished extraction of it may be replaced), ``protected`` as
    ``protected_names``."""
    parts = PurePosixPath(member.name).parts
    if not parts:
        return None
    if any(part.endswith((".complete", ".part")) for part in parts):
        return "its name looks like a completion marker or a partial download (.complete, .part)"
    top = parts[0]
    if top != own and top in protected:
        return f"it would overwrite {protected[top]}"
    existing = destination / top
    if existing.is_symlink() or existing.exists() and (top != own or not existing.is_dir()):
        return f"it would overwrite {'the folder' if existing.is_dir() else 'the file'} {top} already there"
    root = os.path.realpath(destination)
    if not os.path.realpath(destination / member.name).startswith(root + os.sep):
        return f"it would resolve outside {destination.name}"
    return None


def _staging_name(archive: Path) -> str:
    return f".{archive.name}.extracting"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def extract(archive: Path, destination: Path, limits: ExtractLimits | None = None) -> list[str]:
    """Unpack a tar into ``destination`` once every member passes ``member_problem``, ``placement_problem`` and
    ``limits``, with the ``"data"`` filter as a second layer; returns the top-level names.

    Members go to a staging folder first, then each top-level entry is renamed into place, so an interrupted or
    refused extraction never leaves a half-filled folder under its final name.
    """
    limits = limits or archive_limits(archive.name)
    protected = protected_names(destination.name)
    staging = destination / _staging_name(archive)
    shutil.rmtree(staging, ignore_errors=True)
    with open_tar(archive, archive.name, limits) as tar:
        members = checked_members(tar, archive.name, limits)
        for member in members:
            problem = placement_problem(member, archive.stem, destination, protected)
            if problem:
                raise _refusal(archive.name, f"member {member.name!r} refused", problem)
        try:
            _unpack(tar, members, staging, archive.name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    names = sorted(entry.name for entry in staging.iterdir()) if staging.exists() else []
    for name in names:
        target = destination / name
        if target.is_dir():
            shutil.rmtree(target)  # this archive's own unfinished extraction: placement_problem allows no other
        os.replace(staging / name, target)
    shutil.rmtree(staging, ignore_errors=True)
    return names


def _unpack(tar: tarfile.TarFile, members: list[tarfile.TarInfo], staging: Path, name: str) -> None:
    try:
        tar.extractall(staging, members=members, filter="data")
    except ArchiveTooLarge as error:
        raise _refusal(name, "refused while extracting", str(error)) from None
    except DAMAGED as error:
        raise ValueError(f"{name}: refused while extracting, nothing extracted ({error})") from error


def fetch(
    item: Item,
    checksums: dict[str, str],
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    limits: ExtractLimits | None = None,
) -> str:
    """Download, verify, unpack and mark one item, unless it is already marked; returns what happened."""
    marker = marker_path(item.target)
    if marker.exists():
        return "already complete"
    expected = checksums.get(item.key)
    limits = limits or archive_limits(item.target.name)
    if item.target.exists():
        try:
            verify(item.target, item.target.name, expected, limits)
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
            verify(part, item.target.name, expected, limits)
        except ValueError:
            part.unlink()  # damaged content would only be resumed onto: fetch it whole next time
            raise
        os.replace(part, item.target)
        outcome = "downloaded"
    extracted = extract(item.target, item.target.parent, limits) if item.extract else []
    record = {"url": item.url, "bytes": item.target.stat().st_size, "extracted": extracted}
    marker.write_text(json.dumps(record) + "\n")
    return outcome


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line ``error: ...`` (exit status 2) instead of the usage text."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def _number(kind: type, low: float, inclusive: bool):
    """An argparse type: a finite ``kind`` at least (inclusive) or above ``low``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < low or (value == low and not inclusive):
            bound = f">= {low}" if inclusive else f"> {low}"
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'} {bound}, "
                                             f"got {text!r}")  # fmt: skip
        return value

    return parse


def _byte_count(text: str) -> int:
    """An argparse type: a positive number of bytes, e.g. ``500000000``, ``800M`` or ``2G`` (powers of 1024)."""
    match = re.fullmatch(r"(\d+)([KMGT]?)", text.strip().upper())
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"must be a positive byte count like 800M or 2G, got {text!r}")
    return int(match[1]) << (10 * " KMGT".index(match[2] or " "))


def _sequence_argument(text: str) -> str:
    try:
        return check_sequence_name(text, "each name")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _base_url(text: str) -> str:
    if not re.match(r"https?://[^/\s]+", text):
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// address, got {text!r}")
    return text


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--sequences", nargs="+", metavar="SEQ", type=_sequence_argument,
                        help="sequence names, e.g. 171204_pose1")  # fmt: skip
    chosen.add_argument("--list", type=Path, help=f"file of sequence names, one per line (default {DEFAULT_LIST.name})")
    parser.add_argument("--out", type=Path, default=Path("data/generated/panoptic"), help="download folder")
    parser.add_argument("--base-url", type=_base_url, default=BASE_URL,
                        help="dataset web root (getData.sh's address or a mirror)")  # fmt: skip
    parser.add_argument("--with-videos", action="store_true", help="also fetch the 31 HD videos (about 1 GB each)")
    parser.add_argument("--sha256", type=Path, help="sha256sum-style list '<hex>  <seq>/<file>' to check against")
    parser.add_argument("--retries", type=_number(int, 0, True), default=5,
                        help="retries per file after a transient failure")  # fmt: skip
    parser.add_argument("--backoff", type=_number(float, 0, True), default=2.0,
                        help="first retry delay in seconds, doubled each time")  # fmt: skip
    parser.add_argument("--timeout", type=_number(float, 0, False), default=60.0,
                        help="seconds without data before a try fails")  # fmt: skip
    parser.add_argument("--max-extract-bytes", type=_byte_count, metavar="BYTES",
                        help="most bytes a tar may hold once decompressed, e.g. 3G (default: per archive, "
                             "hdPose3d 1G, hdHand3d 2G)")  # fmt: skip
    parser.add_argument("--max-members", type=_number(int, 1, True), metavar="COUNT",
                        help="most members a tar may hold (default 200000)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print what would be fetched, fetch nothing")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser.parse_args(argv)


def run(arguments: argparse.Namespace) -> int:
    """Fetch every item of every sequence asked for; 1 when some item failed (each reported on one line)."""
    sequences = arguments.sequences or read_sequence_list(arguments.list or DEFAULT_LIST)
    checksums = read_checksums(arguments.sha256) if arguments.sha256 else {}
    items = plan(sequences, arguments.out, arguments.base_url, arguments.with_videos)

    def fetch_one(item: Item) -> str:
        limits = archive_limits(item.target.name, arguments.max_extract_bytes, arguments.max_members)
        return fetch(item, checksums, arguments.retries, arguments.backoff, arguments.timeout, limits)

    return fetch_each(items, fetch_one, arguments.dry_run, arguments.debug)


def fetch_each(items: list, fetch_one, dry_run: bool, debug: bool) -> int:
    """Each item (``url``, ``target``, ``key``) through ``fetch_one(item) -> what happened``, one line each (or its
    address only, with ``dry_run``); 1 when some failed, each failure on one line, the others still fetched."""
    failures = 0
    for item in items:
        if dry_run:
            state = " (already complete)" if marker_path(item.target).exists() else ""
            print(f"GET {item.url} -> {item.target}{state}")
            continue
        try:
            print(f"{item.key}: {fetch_one(item)}")
        except (ValueError, OSError, urllib.error.URLError, http.client.HTTPException, DownloadError) as error:
            if debug:
                raise
            failures += 1
            print(f"{item.key}: FAILED: {error}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(items)} files failed; run again to resume", file=sys.stderr)
    return 1 if failures else 0


def command(run_arguments, arguments: argparse.Namespace) -> int:
    """``run_arguments(arguments)``'s exit status; 2 with one line ``error: ...`` for a bad list or checksum file, 130
    when interrupted (``--debug``: the traceback instead)."""
    try:
        return run_arguments(arguments)
    except (ValueError, OSError) as error:
        if arguments.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if arguments.debug:
            raise
        print("interrupted; run again to resume", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when every file is done, 1 when some failed, 2 for a bad flag, list or checksum file."""
    return command(run, parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
