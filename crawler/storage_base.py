"""What the crawl and the archive writers both need about the archive's disk, below both:
where the archive keeps its local files and crawl state, safe path segments, and the errors a
disk raises with how a crawl stops on one (pipelines.storage builds the stores on this).

A write the disk refuses (full, over quota, read-only, I/O error) stops the crawl: the writer
calls `storage_failed()` once, which names the file and the error in one log line and in the stat
`archive/storage_error`, and closes the spider with reason `storage_failed`; after that no writer
writes again (`storage_broken()`), and the manifest says why the run ended.
"""

from __future__ import annotations

import errno
import logging
import re
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from w3lib.url import file_uri_to_path

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_RUN_IDS: WeakKeyDictionary[Crawler, str] = WeakKeyDictionary()

STORAGE_ERROR_STAT = "archive/storage_error"  # "<file>: <errno name>: <message>" of the first
STORAGE_FAILED = "storage_failed"  # the spider's close reason
# What a failed write raises: the OS's error, or SQLite's (the seen-store, the payload index)
STORAGE_ERRORS = (OSError, sqlite3.Error)
# SQLite's primary result codes that mean the disk refused a write (not a bug in a query)
_SQLITE_STORAGE_CODES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN}
)

# where S3 archives are written before upload (ARCHIVE_SPOOL)
DEFAULT_SPOOL = "~/.cache/newsarchiver/spool"

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


def local_path_under(root: Path, key: str) -> Path:
    path = (root / check_key(key)).resolve()
    if not path.is_relative_to(root):  # belt and braces over check_key
        raise ValueError(f"archive key {key!r} leaves the archive root")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def setting_value(settings: Any, name: str, default: Any) -> Any:
    """A setting, or `default` when there are no settings or it is unset or empty."""
    if settings is None:
        return default
    value = settings.get(name, default)
    return default if value in (None, "") else value


def local_root(uri: str, settings: Any = None) -> Path:
    """Where the archive at `uri` keeps its local files: the folder itself, or for
    `s3://bucket/prefix` the spool's `<bucket>/<prefix>` (ARCHIVE_SPOOL), where files wait
    for upload. Not created here."""
    parts = urlsplit(uri)
    if parts.scheme.lower() == "s3":
        prefix = "/".join(p for p in parts.path.split("/") if p)
        spool = Path(setting_value(settings, "ARCHIVE_SPOOL", DEFAULT_SPOOL)).expanduser()
        return (spool / safe_segment(parts.netloc) / (prefix or "_")).resolve()
    path = file_uri_to_path(uri) if uri.startswith("file://") else uri
    return Path(path).expanduser().resolve()


def new_run_id(now: datetime | None = None) -> str:
    """Sorts by start time; the random suffix keeps two runs started in one second apart."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_id_for(crawler: Crawler) -> str:
    """The crawl's run id (ARCHIVE_RUN_ID, or a new one), decided on first use so the run lock
    and every writer of one crawl agree on it."""
    run_id = _RUN_IDS.get(crawler)
    if run_id is None:
        chosen = crawler.settings.get("ARCHIVE_RUN_ID") or new_run_id()
        run_id = _RUN_IDS[crawler] = safe_segment(chosen)
    return run_id


def state_dir(crawler: Crawler) -> Path:
    """Crawl state (seen-store, lock, frontier, payload index) lives beside the archive's local
    files, in `.state/`."""
    folder = local_root(crawler.settings["ARCHIVE_URI"], crawler.settings) / ".state"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def state_path(crawler: Crawler, suffix: str) -> Path:
    """`.state/<spider><suffix>`: one spider's state file or folder. The name is made a safe
    path segment, so no spider name can put state outside the archive."""
    assert crawler.spidercls is not None
    return state_dir(crawler) / f"{safe_segment(crawler.spidercls.name)}{suffix}"


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
