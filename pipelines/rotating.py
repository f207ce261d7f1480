"""A series of archive files, each written as `<name>.open` and renamed to `<name>` when done.

Shared by the WARC writer and the text shards: a reader (or an upload) never sees a file that
is still being written, and a crash leaves a `.open` file that says so.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipelines.run import Run

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
        self.records, self._opened_at = 0, time.monotonic()
        if self.on_open:
            self.on_open(handle, self.name)

    def record_written(self) -> None:
        """Count a record and hand it to the OS, so a killed process loses at most one record."""
        assert self._handle is not None
        self._handle.flush()
        self.records += 1

    def close(self) -> Path | None:
        """Finish the current file: flush, fsync, rename, hand to the store."""
        handle, path, key = self._handle, self._path, self.key
        if handle is None or path is None or key is None:
            return None
        self._handle = None
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        path.with_name(path.name + OPEN_SUFFIX).rename(path)
        counts = self.on_close(path, self.records) if self.on_close else self.records
        self.run.persist(key, path, counts)
        return path
