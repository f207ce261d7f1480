"""The payload-digest index: where each payload was first archived, so that a later capture of
the same bytes becomes a `revisit` record pointing at it.

Persistent per archive and spider, beside the seen-store: `.state/<spider>-payloads.sqlite`.
A run reads only the runs the index does not hold yet (runs from before the index existed, a
killed run that repair has since finished), each from its `indexes/index.cdxj`. So start-up
no longer grows with the archive. This run's own payloads are kept apart until the run closes
cleanly; only then do they join the index. A killed run's records may have been cut by repair,
so they join only through that run's repaired CDXJ. Runs whose folder is gone are forgotten.

A distributed crawl (REDIS_URL) has no shared local disk: its workers share one index in Redis
instead (pipelines.payloads_redis), with the same interface and the same rules.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler

from crawler.frontier.distributed import redis_enabled
from crawler.storage_base import storage_error_text
from pipelines.index import CDXJ_NAME
from pipelines.payload_originals import Original, run_originals

logger = logging.getLogger(__name__)

COLUMNS = "digest TEXT PRIMARY KEY, uri TEXT NOT NULL, date TEXT NOT NULL, record_id TEXT," \
    " run_id TEXT, filename TEXT, offset INTEGER"  # fmt: skip


class PayloadIndex:
    """Payload digest -> first capture. On disk (SQLite), not in a dict: a dict entry cost ~400
    bytes of heap per archived page, so memory grew with every page of a long crawl.
    ``path``: the archive's persistent index file."""

    def __init__(self, path: Path) -> None:
        self.loaded_runs = 0
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if storage_error_text(exc) is not None:
                raise  # a full or read-only disk is not a damaged index: keep it
            # a cache, rebuilt from the runs' CDXJ: a damaged one (or a stray -wal beside a
            # deleted database) is set aside rather than stopping the crawl
            logger.warning("payload index %s unreadable (%s): rebuilding it", path, exc)
            for stale in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                stale.unlink(missing_ok=True)
            self.db = self._open(path)

    def _open(self, path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one thread (the reactor) uses it
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"CREATE TABLE IF NOT EXISTS payloads ({COLUMNS}) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, payloads INTEGER)")
        # this run's payloads, until the run closes cleanly
        db.execute(f"CREATE TEMP TABLE pending ({COLUMNS}) WITHOUT ROWID")
        return db

    def __len__(self) -> int:
        query = "SELECT (SELECT COUNT(*) FROM payloads) + (SELECT COUNT(*) FROM pending)"
        return int(self.db.execute(query).fetchone()[0])

    def __contains__(self, digest: str) -> bool:
        return self.get(digest) is not None

    def get(self, digest: str) -> Original | None:
        for table in ("payloads", "pending"):
            row = self.db.execute(
                f"SELECT uri, date, record_id, run_id, filename, offset FROM {table}"
                " WHERE digest = ?",
                (digest,),
            ).fetchone()
            if row:
                return Original(*row)
        return None

    def add(self, digest: str, original: Original) -> None:
        """Remember the first capture of a payload in this run, which the caller found
        unknown (`get` is None); later ones are ignored, here and when the run commits."""
        self.db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?, ?, ?, ?)",
                        _row(digest, original))  # fmt: skip

    def known_runs(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT run_id FROM runs")}

    def sync(self, run_dirs: list[Path], current: str) -> None:
        """Load the runs the index does not hold yet; forget the ones whose folder is gone."""
        present = {d.name for d in run_dirs}
        for gone in self.known_runs() - present:
            self.db.execute("DELETE FROM payloads WHERE run_id = ?", (gone,))
            self.db.execute("DELETE FROM runs WHERE run_id = ?", (gone,))
        known = self.known_runs()
        for run_dir in run_dirs:
            if run_dir.name != current and run_dir.name not in known:
                self.load_run(run_dir)

    def load_run(self, run_dir: Path) -> None:
        """Add the 200 responses of an earlier run (its indexes/index.cdxj and WARCs); a run
        without a CDXJ (still running, or killed and not repaired yet) is left for later."""
        if not (run_dir / "indexes" / CDXJ_NAME).is_file():
            return
        added = 0
        with self.db:  # one transaction per run
            self.db.execute("BEGIN")
            for digest, at in run_originals(run_dir, self.__contains__):
                self.db.execute("INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?, ?, ?, ?)",
                                _row(digest, at))  # fmt: skip
                added += 1
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run_dir.name, added))
        self.loaded_runs += 1

    def commit_run(self, run_id: str) -> None:
        """This run closed cleanly: its payloads join the index, and the run counts as held."""
        with self.db:
            self.db.execute("BEGIN")
            count = self.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
            self.db.execute("INSERT OR IGNORE INTO payloads SELECT * FROM pending")
            self.db.execute("DELETE FROM pending")
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run_id, count))

    def close(self) -> None:
        self.db.close()


def open_payload_index(crawler: Crawler, run_id: str, path: Callable[[], Path]) -> Any:
    """Redis's index shared by the workers when REDIS_URL is set, else the archive's SQLite
    file at `path()`. Both have PayloadIndex's interface."""
    if redis_enabled(crawler.settings):
        from pipelines.payloads_redis import RedisPayloadIndex

        assert crawler.spidercls is not None
        return RedisPayloadIndex.from_settings(crawler.settings, crawler.spidercls.name, run_id)
    return PayloadIndex(path())


def _row(digest: str, original: Original) -> tuple[object, ...]:
    return (digest, original.uri, original.date, original.record_id, original.run_id,
            original.filename, original.offset)  # fmt: skip
