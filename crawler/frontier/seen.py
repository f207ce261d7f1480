"""The seen-store: which articles earlier runs stored, and the validators (ETag,
Last-Modified) of feeds and sitemaps, so a scheduled run fetches only what is new.

SQLite, one file per archive and spider, beside the archive's local files:
`<archive or spool>/.state/<spider>-seen.sqlite`; in a distributed crawl (REDIS_URL) the same
interface in Redis, shared by the workers (crawler.frontier.seen_redis). URLs are keyed canonically
(crawler.discovery.documents.canonical). `open_seen_store` picks the one a crawl uses.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from crawler.discovery.documents import canonical

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.items import Article

# URLs per `seen_articles` query: far below SQLite's bound on a statement's variables (32,766)
BATCH_SIZE = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY,        -- canonical URL
    run_id TEXT,                 -- run that stored it (last time)
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    text_digest TEXT             -- sha256 of the stored text: "changed" means this differs
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,     -- a run that marks articles here
    opened TEXT NOT NULL,
    closed TEXT                  -- all it stored is marked; NULL: killed, or a write failed
);
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,        -- feed or sitemap URL, canonical
    etag TEXT,
    last_modified TEXT,
    checked TEXT NOT NULL,
    children TEXT                -- a sitemap index's child sitemaps (JSON list)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Seen(Protocol):
    """What the spider and crash repair need of a seen-store (SQLite or Redis)."""

    def has_article(self, url: str) -> bool: ...
    # those of `urls` that are stored articles: one query (round trip) for a page's links
    def seen_articles(self, urls: list[str]) -> set[str]: ...
    def article_validators(self, url: str) -> tuple[str | None, str | None]: ...
    def article_text_digest(self, url: str) -> str | None: ...
    def mark_article(
        self,
        url: str,
        run_id: str,
        etag: str | None = None,
        last_modified: str | None = None,
        text_digest: str | None = None,
    ) -> None: ...
    def validators(self, url: str) -> tuple[str | None, str | None]: ...
    def save_validators(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        children: list[str] | None = None,
    ) -> None: ...
    def children(self, url: str) -> list[str]: ...
    def count_articles(self) -> int: ...
    # Runs whose marks may be missing some stored article (pipelines.repair marks them from
    # their text shards at the next start): opened, and not closed cleanly.
    def open_run(self, run_id: str) -> None: ...
    def close_run(self, run_id: str) -> None: ...
    def unclosed_runs(self) -> list[str]: ...
    def close(self) -> None: ...


class SeenStore:
    def __init__(
        self,
        path: Path,
        on_write_error: Callable[[Path, Exception], None] | None = None,
        max_pages: int = 0,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # a failed write (a full disk): told once (it stops the crawl), later writes skipped
        self.on_write_error = on_write_error
        self.writable = True
        # check_same_thread: Scrapy calls us from its reactor thread only
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        # No fsync per article (it cost ~8% of the reactor's CPU): a killed crawl still keeps
        # every commit (WAL); only a power cut may lose the last ones, as it may the unsynced
        # tail of the archive files themselves.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if max_pages:  # SEEN_MAX_PAGES, for tests: SQLITE_FULL once the file reaches it
            self.db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(articles)")}
        if "text_digest" not in columns:  # a store written before text digests were kept
            self.db.execute("ALTER TABLE articles ADD COLUMN text_digest TEXT")

    def has_article(self, url: str) -> bool:
        row = self.db.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchone()
        return row is not None

    def seen_articles(self, urls: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(urls), BATCH_SIZE):
            batch = urls[start : start + BATCH_SIZE]
            marks = ", ".join("?" * len(batch))
            query = f"SELECT url FROM articles WHERE url IN ({marks})"  # placeholders only
            found.update(row[0] for row in self.db.execute(query, batch))
        return found

    def article_validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute(
            "SELECT etag, last_modified FROM articles WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def article_text_digest(self, url: str) -> str | None:
        row = self.db.execute("SELECT text_digest FROM articles WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def mark_article(
        self,
        url: str,
        run_id: str,
        etag: str | None = None,
        last_modified: str | None = None,
        text_digest: str | None = None,
    ) -> None:
        now = _now()
        self._write(
            "INSERT INTO articles (url, run_id, first_seen, last_seen, etag, last_modified,"
            " text_digest) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET"
            " run_id = excluded.run_id, last_seen = excluded.last_seen, etag = excluded.etag,"
            " last_modified = excluded.last_modified, text_digest = excluded.text_digest",
            (url, run_id, now, now, etag, last_modified, text_digest),
        )

    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute(
            "SELECT etag, last_modified FROM validators WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        children: list[str] | None = None,
    ) -> None:
        if not etag and not last_modified:
            return
        self._write(
            "INSERT INTO validators (url, etag, last_modified, checked, children)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,"
            " last_modified = excluded.last_modified, checked = excluded.checked,"
            " children = excluded.children",
            (url, etag, last_modified, _now(), json.dumps(children) if children else None),
        )

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if not self.writable:
            return
        try:
            self.db.execute(sql, params)
        except sqlite3.Error as exc:
            if self.on_write_error is None:
                raise
            self.on_write_error(self.path, exc)  # re-raises what is not the disk's error
            self.writable = False

    def children(self, url: str) -> list[str]:
        """Child sitemaps a sitemap index listed when it was last fetched: an unchanged (304)
        index still has to be walked, since its children change on their own."""
        row = self.db.execute("SELECT children FROM validators WHERE url = ?", (url,)).fetchone()
        return json.loads(row[0]) if row and row[0] else []

    def count_articles(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def open_run(self, run_id: str) -> None:
        self._write(
            "INSERT INTO runs (run_id, opened) VALUES (?, ?) ON CONFLICT(run_id) DO UPDATE SET"
            " closed = NULL",
            (run_id, _now()),
        )

    def close_run(self, run_id: str) -> None:
        self._write("UPDATE runs SET closed = ? WHERE run_id = ?", (_now(), run_id))

    def unclosed_runs(self) -> list[str]:
        return [r for (r,) in self.db.execute("SELECT run_id FROM runs WHERE closed IS NULL")]

    def close(self) -> None:
        self.db.close()


def seen_store_path(crawler: Any) -> Path:
    """Where a crawler's seen-store lives (shared by the spider and crash repair)."""
    from crawler.storage_base import state_path

    return state_path(crawler, "-seen.sqlite")


def open_seen_store(crawler: Any) -> Seen:
    """The crawl's seen-store: in Redis when REDIS_URL is set (shared by the workers of a
    distributed crawl), else the archive's SQLite file."""
    from crawler.frontier.distributed import redis_enabled

    if redis_enabled(crawler.settings):
        from crawler.frontier.seen_redis import RedisSeenStore

        return RedisSeenStore.from_settings(crawler.settings, crawler.spidercls.name)
    from crawler.storage_base import storage_failed

    max_pages = crawler.settings.getint("SEEN_MAX_PAGES", 0)
    return SeenStore(seen_store_path(crawler), partial(storage_failed, crawler), max_pages)


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Headers of a conditional GET (a 304 answer then costs nothing)."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


# --- what an article is remembered by ------------------------------------------------------


def article_keys(response: Response, article: Article) -> list[str]:
    """Canonical forms of the redirect chain's URLs, the final URL and the canonical URL."""
    chain = [*response.meta.get("redirect_urls", []), response.url, article.url]
    site = (urlsplit(response.url).hostname or "").removeprefix("www.")
    declared = urlsplit(article.canonical_url or "")
    # a canonical URL on another site, or the site's root, is a template's mistake, not this
    # article's address: marking it would hide that page from later runs
    if (declared.hostname or "").removeprefix("www.") == site and declared.path not in ("", "/"):
        chain.append(article.canonical_url or "")
    return list(dict.fromkeys(canonical(url) for url in chain))


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
