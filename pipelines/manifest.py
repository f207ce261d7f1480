"""`manifest.json`, written last in every run: what the run stored and how it went.

Every file with its key, size, sha256 and record counts; the settings that shape a crawl; the
software versions; start and end; pages, articles and errors by kind. A run folder without a
manifest is visibly incomplete (still running, or not yet pushed to S3). A killed run gets
its manifest from the next run's crash repair (pipelines.finish), marked `"killed": true`.
The run's outcome (pipelines.outcome: the exit status of `scrapy crawl`) is in `"outcome"`.
`"complete"` is true only when the run did all it was asked to and every file is in the
archive: a run stopped by a signal, by a failed write or with uploads left in the spool says
`false`, and its outcome says why (`scrapy corpus ls` shows it as incomplete).
"""

from __future__ import annotations

import json
import logging
import platform
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.frontier.distributed import redis_enabled, worker_id
from crawler.items import Article
from crawler.storage_base import STORAGE_ERRORS, storage_failed
from pipelines.outcome import INCOMPLETE, STORAGE_FAILED, decide_outcome, storage_failure
from pipelines.run import MANIFEST_NAME, Run, run_for

logger = logging.getLogger(__name__)

FORMAT = "newsarchiver-manifest/1"
MANIFEST_RESERVE = 64 * 1024  # bytes held for the manifest (~150 files listed)
# Settings that change what a crawl fetches or how it stores it.
RECORDED_SETTINGS = (
    "USER_AGENT", "ROBOTSTXT_OBEY", "DEPTH_LIMIT", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED",
    "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_MAXSIZE", "NEWS_MIN_ARTICLE_CHARS",
    "WARC_MAX_SIZE", "WARC_MAX_AGE", "WARC_DEDUP", "TEXT_SHARD_MAX_RECORDS", "WACZ_ENABLED",
    "CLOSESPIDER_TIMEOUT", "CLOSESPIDER_ITEMCOUNT", "CLOSESPIDER_PAGECOUNT",
)  # fmt: skip
SOFTWARE = ("newsarchiver", "scrapy", "twisted", "trafilatura", "htmldate", "warcio", "boto3")
# Stats prefixes counted as errors, by kind.
ERROR_STATS = {
    "downloader/exception_type_count/": "download",
    "httperror/response_ignored_status_count/": "http",
    "spider_exceptions/": "spider",
    "news/not_article/": "not_article",
}


def software_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def run_stats(stats: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, int] = {}
    for name, value in stats.items():
        for prefix, kind in ERROR_STATS.items():
            if name.startswith(prefix):
                errors[f"{kind}/{name[len(prefix) :].rsplit('.', 1)[-1]}"] = value
    return {
        "requests": stats.get("downloader/request_count", 0),
        "responses": stats.get("response_received_count", 0),
        "pages_by_kind": {
            k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("news/pages/")
        },
        "articles": stats.get("news/articles", 0),
        "text_records": stats.get("archive/text_records", 0),
        "warc_records": {
            k.rsplit("/", 1)[-1]: v
            for k, v in stats.items()
            if k.startswith("archive/warc_records/")
        },
        "revisit_bytes_saved": stats.get("archive/revisit_bytes_saved", 0),
        "invalid_seeds": stats.get("news/seeds/invalid", 0),
        "robots_forbidden": stats.get("robotstxt/forbidden", 0),
        "log_errors": stats.get("log_count/ERROR", 0),
        "errors": dict(sorted(errors.items())),
    }


class ContentSummary:
    """What the run's articles cover, so `scrapy corpus ls` can show it and `corpus get` can
    skip runs that cannot match a filter without downloading their text."""

    def __init__(self) -> None:
        self.domains: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.dates: list[str] = []  # [earliest, latest] publication date seen

    def add(self, item: Article) -> None:
        self.add_fields(item.url, item.language, item.date)

    def add_record(self, record: dict[str, Any]) -> None:
        """A text record as read back from a shard (a killed run's, see pipelines.finish)."""
        self.add_fields(record.get("url") or "", record.get("language"), record.get("date"))

    def add_fields(self, url: str, language: str | None, date: str | None) -> None:
        self.domains[urlsplit(url).hostname or ""] += 1
        self.languages[language or "unknown"] += 1
        if date:
            day = date[:10]
            low, high = self.dates or [day, day]
            self.dates = [min(low, day), max(high, day)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_min": self.dates[0] if self.dates else None,
            "date_max": self.dates[1] if self.dates else None,
            "domains": dict(self.domains.most_common()),
            "languages": dict(self.languages.most_common()),
        }


SCOPE_SEEDS_LISTED = 1000  # seed URLs written into a manifest (the total is always given)


def crawl_scope(spider: Any) -> dict[str, Any]:
    """What the run was asked to fetch: its seeds (URLs and the files or -a they came from),
    the sites it stayed on and its date window, for the dataset card and for re-running it."""
    seeds = getattr(spider, "seeds", None) or []
    # a seed file's entries are "path:line"; -a urls= entries are "urls[i]"
    files = sorted({seed.source.rsplit(":", 1)[0] for seed in seeds if ":" in seed.source})
    window = getattr(spider, "window", None)
    return {
        "seeds": [seed.url for seed in seeds[:SCOPE_SEEDS_LISTED]],
        "seeds_total": len(seeds),
        "seed_files": files,
        "allowed_domains": list(getattr(spider, "allowed_domains", None) or []),
        "since": window.since.isoformat() if window and window.since else None,
        "until": window.until.isoformat() if window and window.until else None,
        "refetch": getattr(spider, "refetch", None),
    }


def manifest_head(run: Run) -> dict[str, Any]:
    """The fields that name a run, first in every manifest (a finished or a killed run's)."""
    return {
        "format": FORMAT,
        "spider": run.spider,
        "run_id": run.run_id,
        "archive_uri": run.store.uri,
        "prefix": run.prefix,
    }


def manifest_paths(run: Run) -> tuple[str, Path, Path]:
    """The manifest's key, its local path, and the partial file it is written to first."""
    key = run.key(None, MANIFEST_NAME)
    path = run.store.local_path(key)
    return key, path, path.with_name(path.name + ".tmp")


def reserve_manifest_room(run: Run) -> None:
    """Hold MANIFEST_RESERVE bytes of disk for the manifest from the run's start, so a run
    that fills the disk can still say why it stopped (written over in place, see below)."""
    _key, _path, partial = manifest_paths(run)
    partial.write_bytes(b" " * MANIFEST_RESERVE)


def write_manifest(run: Run, manifest: dict[str, Any]) -> tuple[str, Path]:
    """Write `<run>/manifest.json` atomically in the store's local folder (not uploaded:
    the caller decides, since a manifest goes to S3 only after every other file of its run).
    Returns its key and local path."""
    key, path, partial = manifest_paths(run)
    data = (json.dumps(manifest, indent=1, default=str) + "\n").encode()
    try:
        # over the reserved room when there is one: a full disk has no new blocks to give
        with partial.open("r+b" if partial.exists() else "wb") as handle:
            handle.write(data)
            handle.truncate()
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)  # a full disk: no half-written manifest left behind
        raise
    return key, path


class RunManifestExtension:
    """On spider_closed, after the writers (a higher EXTENSIONS number connects later)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.content = ContentSummary()
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def spider_opened(self) -> None:
        try:
            reserve_manifest_room(run_for(self.crawler))
        except STORAGE_ERRORS as exc:  # the disk is full already: the writers would fail too
            storage_failed(self.crawler, MANIFEST_NAME, exc)

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Article):  # stored by the pipelines: it counts
            self.content.add(item)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunManifestExtension:
        return cls(crawler)

    def spider_closed(self, reason: str) -> None:
        run = run_for(self.crawler)
        spooled = run.store.drain()  # uploads still running: wait, then list what failed
        settings = self.crawler.settings
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        outcome = decide_outcome(reason, stats, spooled)
        manifest = {
            **manifest_head(run),
            "started_at": run.started_at,
            "finished_at": datetime.now(UTC).isoformat(),
            "finish_reason": reason,
            "complete": not spooled and outcome.exit_code not in INCOMPLETE,
            "outcome": outcome.as_dict(),
            "files": [
                {**entry, "stored": "spool" if key in spooled else "archive"}
                for key, entry in sorted(run.files.items())
            ],
            "stats": run_stats(stats),
            "content": self.content.as_dict(),
            "scope": crawl_scope(self.crawler.spider),
            "settings": {name: settings.get(name) for name in RECORDED_SETTINGS},
            "software": software_versions(),
        }
        if redis_enabled(settings):  # which distributed crawl and worker wrote the run
            manifest["distributed"] = {
                "crawl_id": settings.get("REDIS_CRAWL_ID") or "default",
                "worker_id": worker_id(settings),
            }
        if hasattr(run.store, "uploaded_bytes"):  # S3: what the uploads achieved
            manifest["upload"] = {
                "bytes": run.store.uploaded_bytes,
                "seconds": round(run.store.upload_seconds, 3),
            }
        outcome.record(self.crawler.stats)  # for `scrapy crawl`, even if the manifest fails
        try:
            key, path = write_manifest(run, manifest)
        except OSError as exc:  # the disk is full (or gone): the run's status says so anyway
            logger.error("could not write the manifest of run %s: %s", run.prefix, exc)
            if outcome.exit_code != STORAGE_FAILED:  # else keep the first write's error
                failed = storage_failure(f"could not write {MANIFEST_NAME}: {exc}")
                failed.record(self.crawler.stats)
            return
        if spooled:
            logger.error(
                "run %s is incomplete in %s: %d file(s) wait in the spool %s; "
                "run `scrapy corpus push` to upload them and this manifest",
                run.prefix, run.store.uri, len(spooled), run.store.local_root,
            )  # fmt: skip
            return
        run.store.persist(key, path, "")
        if run.store.drain():
            logger.error("manifest upload failed; it waits in %s", path)
            waiting = decide_outcome(reason, stats, [key])
            waiting.record(self.crawler.stats)
            # the spool's copy says so too, until `corpus push` marks it complete
            write_manifest(run, {**manifest, "complete": False, "outcome": waiting.as_dict()})
