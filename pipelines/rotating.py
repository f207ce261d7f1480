"""A series of archive files, each written as `<name>.open` and renamed to `<name>` when done.

Shared by the WARC writer and the text shards: a reader (or an upload) never sees a file that
is still being written, and a crash leaves a `.open` file that says so. A write that fails (a
full disk) leaves the file to `salvage()`: cut back to its last whole record and closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipelines.run import Run

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"


@dataclass(frozen=True)
class RotationLimits:
    """A new file starts before the next record once any limit is reached (0 = no limit)."""

    max_bytes: int = 0
    max_age: float = 0.0
    max_records: int = 0


class RotatingFile:
    """Opens files lazily; `stream()` is where the next record goes."""

    def __init__(
        self,
        run: Run,
        make_key: Callable[[int], str],
        limits: RotationLimits,
        *,
        on_open: Callable[[BinaryIO, str], None] | None = None,
        on_close: Callable[[Path, int], Any] | None = None,
    ) -> None:
        self.run = run
        self.store = run.store
        self.make_key = make_key  # serial -> key of the finished file
        self.limits = limits
        self.on_open = on_open  # e.g. write a warcinfo record first
        self.on_close = on_close  # (final path, records) after the rename -> manifest counts
        self.serial = 0
        self.key: str | None = None
        self.records = 0
        self._handle: BinaryIO | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._whole = 0  # the file's length after its last whole record

    @property
    def open_path(self) -> Path | None:
        """The `.open` file being written, if any."""
        return self._path.with_name(self._path.name + OPEN_SUFFIX) if self._path else None

    @property
    def name(self) -> str:
        """Final file name of the current file (the one records point at)."""
        assert self.key is not None, "no file open"
        return self.key.rsplit("/", 1)[-1]

    def _due(self) -> bool:
        lim, handle = self.limits, self._handle
        assert handle is not None
        return bool(
            (lim.max_bytes and handle.tell() >= lim.max_bytes)
            or (lim.max_records and self.records >= lim.max_records)
            or (lim.max_age and time.monotonic() - self._opened_at >= lim.max_age)
        )

    def stream(self) -> BinaryIO:
        if self._handle is not None and self.records and self._due():
            self.close()
        if self._handle is None:
            self._open()
        assert self._handle is not None
        return self._handle

    def _open(self) -> None:
        while True:
            self.serial += 1
            key = self.make_key(self.serial)
            path = self.store.local_path(key)
            if path.exists():
                continue  # never overwrite a finished file, e.g. of a rerun with a fixed run id
            try:
                handle = path.with_name(path.name + OPEN_SUFFIX).open("xb")
            except FileExistsError:
                continue
            # Held while we write: crash repair skips .open files a live process still holds.
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        self.key, self._path, self._handle = key, path, handle
        self.records, self._opened_at, self._whole = 0, time.monotonic(), 0
        if self.on_open:
            self.on_open(handle, self.name)

    def record_written(self) -> None:
        """Count a record and hand it to the OS, so a killed process loses at most one record."""
        assert self._handle is not None
        self._handle.flush()
        self.records += 1
        self._whole = self._handle.tell()

    def close(self) -> Path | None:
        """Finish the current file: flush, fsync, rename, hand to the store. On an OSError the
        file stays open for `salvage()`."""
        handle, path, key = self._handle, self._path, self.key
        if handle is None or path is None or key is None:
            return None
        handle.flush()
        os.fsync(handle.fileno())
        self._handle = None
        handle.close()
        path.with_name(path.name + OPEN_SUFFIX).rename(path)
        self._path = None
        return self._finished(key, path)

    def _finished(self, key: str, path: Path) -> Path:
        counts = self.on_close(path, self.records) if self.on_close else self.records
        self.run.persist(key, path, counts)
        return path

    def salvage(self) -> Path | None:
        """After a failed write: close the current file cut back to its last whole record and
        renamed as `close()` does (crash repair's cut, which checks every gzip member), so what
        it holds is kept and readable, and the torn bytes are freed at once. A file that cannot
        be cut (the disk refuses even that) stays `.open`, for the next run's crash repair."""
        handle, open_path, key = self._handle, self.open_path, self.key
        self._handle = self._path = None
        if open_path is None or key is None:
            return None
        if handle is not None:
            with contextlib.suppress(OSError):  # what its buffer still held is what failed
                handle.close()
        try:
            size = open_path.stat().st_size
            os.truncate(open_path, self._whole)
            repaired = repair_open_file(open_path)
        except OSError as exc:
            logger.warning("left for the next run's crash repair: %s (%s)", open_path, exc)
            return None
        if repaired is None or not repaired.kept_bytes:
            logger.warning("removed %s: not one whole record in it", open_path)
            return None
        logger.warning("closed %s at its last whole record: kept %d bytes, dropped %d",
                       repaired.path, repaired.kept_bytes, size - repaired.kept_bytes)  # fmt: skip
        return self._finished(key, repaired.path)


# --- crash repair of one file: cut back to its last whole gzip member (pipelines.repair) ---

CHUNK = 1 << 20
GZIP_WBITS = zlib.MAX_WBITS | 16


def complete_members_length(path: Path) -> int:
    """Length of the longest prefix of `path` made only of complete gzip members."""
    good_end = position = 0
    decompressor = zlib.decompressobj(GZIP_WBITS)
    with path.open("rb") as handle:
        data = handle.read(CHUNK)
        while data:
            try:
                decompressor.decompress(data)
            except zlib.error:
                break  # a torn or garbage member: everything before it is good
            if decompressor.eof:
                unused = decompressor.unused_data
                position += len(data) - len(unused)
                good_end = position
                decompressor = zlib.decompressobj(GZIP_WBITS)
                data = unused or handle.read(CHUNK)
            else:
                position += len(data)
                data = handle.read(CHUNK)
    return good_end


@dataclass
class Repaired:
    path: Path  # the closed file (None-like when an empty file was removed)
    kept_bytes: int
    dropped_bytes: int


def repair_open_file(open_path: Path) -> Repaired | None:
    """Truncate and rename one orphaned `.open` file; None when a live process holds it."""
    with open_path.open("r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # still being written by a running crawl
        size = os.fstat(handle.fileno()).st_size
        keep = complete_members_length(open_path)
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    final = open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX))
    if keep == 0:
        open_path.unlink()  # not one complete record: nothing to keep
        return Repaired(final, 0, size)
    if final.exists():  # never overwrite a finished file
        final = final.with_name(f"repaired-{final.name}")
    open_path.rename(final)
    return Repaired(final, keep, size - keep)
