"""Archive stores chosen by the scheme of ARCHIVE_URI (model: scrapy/pipelines/files.py).

Writers never open archive paths themselves: they ask the store for the local path of a key
(`local_path`), write it, and hand it back when complete (`persist`). A key is a `/`-joined
relative path such as `news/<run_id>/warc/<name>.warc.gz`; it can never leave the store's root.
Local folders are written in place; S3 stores write to a local spool and upload (pipelines.s3).

A write the disk refuses (full, over quota, read-only, I/O error) stops the crawl: the writer
calls `storage_failed()` once, which names the file and the error in one log line and in the stat
`archive/storage_error`, and closes the spider with reason `storage_failed`; after that no writer
writes again (`storage_broken()`), and the manifest says why the run ended.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from w3lib.url import file_uri_to_path

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

STORAGE_ERROR_STAT = "archive/storage_error"  # "<file>: <errno name>: <message>" of the first
STORAGE_FAILED = "storage_failed"  # the spider's close reason
# What a failed write raises: the OS's error, or SQLite's (the seen-store, the payload index)
STORAGE_ERRORS = (OSError, sqlite3.Error)
# SQLite's primary result codes that mean the disk refused a write (not a bug in a query)
_SQLITE_STORAGE_CODES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN}
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_segment(name: str) -> str:
    """One path segment made of safe characters: no separators, no `..`, no control bytes."""
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", name)).strip("._")
    return cleaned[:120] or "_"


def check_key(key: str) -> str:
    """The key itself when every segment is already safe; ValueError otherwise."""
    segments = key.split("/")
    if not key or any(seg != safe_segment(seg) for seg in segments):
        raise ValueError(f"unsafe archive key {key!r}")
    return key


class ArchiveStore(Protocol):
    uri: str
    local_root: Path  # where files are written before they are persisted

    def local_path(self, key: str) -> Path:
        """Where a writer writes the file for `key` (parent folders exist)."""

    def persist(self, key: str, path: Path, sha256: str) -> None:
        """Called once the file at `path` is complete (sha256: hex digest of its bytes)."""

    def drain(self) -> list[str]:
        """Wait for pending work; the keys that are not safely stored (still local only)."""


def local_path_under(root: Path, key: str) -> Path:
    path = (root / check_key(key)).resolve()
    if not path.is_relative_to(root):  # belt and braces over check_key
        raise ValueError(f"archive key {key!r} leaves the archive root")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class FSArchiveStore:
    """A local folder: files are written in place, so persisting is a no-op."""

    def __init__(self, uri: str, settings: Any = None) -> None:
        self.uri = uri
        path = file_uri_to_path(uri) if uri.startswith("file://") else uri
        self.root = Path(path).expanduser().resolve()
        self.local_root = self.root

    def local_path(self, key: str) -> Path:
        return local_path_under(self.root, key)

    def persist(self, key: str, path: Path, sha256: str) -> None:
        return None

    def drain(self) -> list[str]:
        return []


def _s3_store(uri: str, settings: Any = None) -> ArchiveStore:
    from pipelines.s3 import S3ArchiveStore  # boto3 is only imported for s3:// archives

    return S3ArchiveStore(uri, settings)


STORE_SCHEMES: dict[str, Any] = {"": FSArchiveStore, "file": FSArchiveStore, "s3": _s3_store}


def get_store(uri: str, settings: Any = None) -> ArchiveStore:
    """The store for ARCHIVE_URI; `settings` (Scrapy Settings) configure S3 stores."""
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme not in STORE_SCHEMES:
        supported = ", ".join(s or "<local path>" for s in STORE_SCHEMES)
        raise ValueError(
            f"ARCHIVE_URI {uri!r}: scheme {scheme!r} is not supported (supported: {supported})"
        )
    return STORE_SCHEMES[scheme](uri, settings)


def storage_error_text(error: BaseException) -> str | None:
    """`ENOSPC: No space left on device` for an error of the disk, None for any other error."""
    if isinstance(error, OSError):
        name = errno.errorcode.get(error.errno or 0, type(error).__name__)
        return f"{name}: {error.strerror or error}"
    code = getattr(error, "sqlite_errorcode", None)  # set on sqlite3.Error raised by SQLite
    if code is not None and code & 0xFF in _SQLITE_STORAGE_CODES:
        return f"{getattr(error, 'sqlite_errorname', 'SQLITE')}: {error}"
    return None


def storage_broken(crawler: Crawler) -> bool:
    """Whether a write failed earlier in this crawl: then nothing more is written."""
    return crawler.stats is not None and bool(crawler.stats.get_value(STORAGE_ERROR_STAT))


def storage_failed(crawler: Crawler, path: Path | str | None, error: BaseException) -> None:
    """A write to `path` failed with `error`. The first time: one error line, the stat, and the
    spider closed with reason `storage_failed`, so downloading stops at once (what is in flight
    still arrives, and is not stored). Later failures (other writers that were already writing)
    add nothing to the log. Re-raises `error` when it is not the disk's (a bug must show)."""
    why = storage_error_text(error)
    if why is None:
        raise error
    if storage_broken(crawler):
        logger.debug("also failed: %s: %s", path, why)
        return
    line = f"{getattr(error, 'filename', None) or path}: {why}"  # open() names its file itself
    assert crawler.stats is not None
    crawler.stats.set_value(STORAGE_ERROR_STAT, line)
    logger.error("storage failed, the crawl stops: cannot write %s", line)
    from scrapy.utils.defer import deferred_from_coro

    engine = crawler.engine
    if engine is not None and engine.spider is not None:  # else: not running, or closed already
        closing = deferred_from_coro(engine.close_spider_async(reason=STORAGE_FAILED))
        closing.addErrback(lambda failure: logger.debug("closing the spider: %s", failure.value))
