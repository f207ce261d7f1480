"""Crawl-level extensions: one run at a time per archive and spider, and robots.txt Crawl-delay.

Both keep their files in the archive's local state folder (`<archive or spool>/.state/`).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO
from weakref import WeakKeyDictionary

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

logger = logging.getLogger(__name__)


def state_dir(crawler: Crawler) -> Path:
    """Crawl state (seen-store, lock) lives beside the archive's local files."""
    from pipelines.run import run_for  # the run knows where the archive keeps local files

    folder = run_for(crawler).store.local_root / ".state"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class CrawlAlreadyRunning(RuntimeError):
    """Raised at start-up: `scrapy crawl` exits with status 1 and this message."""


class CrawlLockExtension:
    """Holds an exclusive flock on `.state/<spider>.lock` for the whole run, so a scheduled run
    that starts while the previous one still runs stops at once instead of overlapping."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.spidercls is not None
        path = state_dir(crawler) / f"{crawler.spidercls.name}.lock"
        self.handle: IO[str] | None = path.open("a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise CrawlAlreadyRunning(
                f"{crawler.spidercls.name} is already running on this archive ({holder}; "
                f"lock {path}); not starting a second, overlapping run"
            ) from None
        self.handle.truncate(0)
        self.handle.write(f"pid {os.getpid()}\n")
        self.handle.flush()
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLockExtension:
        return cls(crawler)

    def spider_closed(self) -> None:
        if self.handle is not None:
            self.handle.close()  # releases the lock
            self.handle = None


_DELAYS: WeakKeyDictionary[Crawler, dict[str, float]] = WeakKeyDictionary()


def set_crawl_delay(crawler: Crawler, host: str, seconds: float) -> None:
    """Record a site's robots.txt Crawl-delay (the spider calls this when it reads robots.txt)."""
    _DELAYS.setdefault(crawler, {})[host] = seconds
    crawler.stats.set_value(f"news/crawl_delay/{host}", seconds)


class CrawlDelayExtension:
    """Keeps each site's download-slot delay at least its Crawl-delay. Runs after AutoThrottle
    (a later EXTENSIONS entry connects later), which would otherwise lower it again."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayExtension:
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        delays = _DELAYS.get(self.crawler)
        host = urlparse_cached(request).hostname or ""
        if not delays or host not in delays:
            return
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay < delays[host]:
            slot.delay = delays[host]
