"""Crawl-level extensions: one run at a time per archive and spider, robots.txt Crawl-delay,
and a record of the signal that interrupted a run.

The first two keep their files in the archive's local state folder (`<archive or
spool>/.state/`). In a distributed crawl (REDIS_URL) they coordinate through Redis instead
(crawler.frontier.distributed).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import signal
from types import FrameType
from typing import IO, Any
from weakref import WeakKeyDictionary

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import task

from crawler.frontier.distributed import (
    crawl_key,
    redis_client,
    redis_enabled,
    run_lock_key,
    worker_id,
    worker_timeout,
)
from crawler.storage_base import run_id_for, state_path

logger = logging.getLogger(__name__)

# Scrapy's close reason after the first SIGINT/SIGTERM (a graceful stop; a second one forces).
SHUTDOWN_REASON = "shutdown"
# What InterruptExtension records (pipelines.outcome reads them: exit status 6, "interrupted").
INTERRUPTED_BY_STAT = "news/interrupted_by"  # "SIGTERM" / "SIGINT"
INTERRUPTED_AFTER_STAT = "news/interrupted_after_pages"  # responses received when it came
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class CrawlAlreadyRunning(RuntimeError):
    """Raised at start-up: `scrapy crawl` exits with status 1 and this message."""


class CrawlLockExtension:
    """Holds an exclusive flock on `.state/<spider>.lock` for the whole run, so a scheduled run
    that starts while the previous one still runs stops at once instead of overlapping.

    In a distributed crawl (REDIS_URL) several workers run on one archive on purpose, and Redis
    coordinates them (one queue, one dupefilter, one seen-store), so the archive lock is not
    taken. What must stay one writer's is the run folder: a Redis lock on the run id (refreshed
    while the worker lives, expiring REDIS_WORKER_TIMEOUT after it dies) refuses a second
    worker given the same fixed ARCHIVE_RUN_ID."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.spidercls is not None
        self.handle: IO[str] | None = None
        self.run_lock: Any = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        if redis_enabled(crawler.settings):
            self._lock_run_id(crawler)
            return
        path = state_path(crawler, ".lock")
        self.handle = path.open("a+")
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

    def _lock_run_id(self, crawler: Crawler) -> None:
        settings, spider = crawler.settings, crawler.spidercls.name  # type: ignore[union-attr]
        run_id = run_id_for(crawler)
        server = redis_client(settings)
        timeout = worker_timeout(settings)
        lock = server.lock(run_lock_key(settings, spider, run_id), timeout=timeout)
        holder = f"{worker_id(settings)} ({secrets.token_hex(4)})"
        if not lock.acquire(blocking=False, token=holder):
            other = (server.get(lock.name) or b"another worker").decode()
            raise CrawlAlreadyRunning(
                f"run {run_id!r} of {spider} is already being written by {other} in this "
                f"distributed crawl; give each worker its own ARCHIVE_RUN_ID (or none)"
            )
        logger.info(
            "distributed crawl: archive lock not taken, Redis coordinates the workers; "
            "run %s locked in Redis by %s", run_id, holder,
        )  # fmt: skip
        self.run_lock = lock
        self.refresh = task.LoopingCall(self._refresh_run_lock)
        self.refresh.start(max(timeout / 4, 1), now=False)

    def _refresh_run_lock(self) -> None:
        try:
            self.run_lock.reacquire()
        except Exception as exc:  # a Redis hiccup must not stop the refresh loop
            logger.warning("could not refresh the run lock %s: %r", self.run_lock.name, exc)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLockExtension:
        return cls(crawler)

    def spider_closed(self) -> None:
        if self.handle is not None:
            self.handle.close()  # releases the lock
            self.handle = None
        if self.run_lock is not None:
            if self.refresh.running:
                self.refresh.stop()
            try:
                self.run_lock.release()
            except Exception as exc:  # expired meanwhile: nothing left to release
                logger.warning("run lock %s already gone: %r", self.run_lock.name, exc)
            self.run_lock = None


_DELAYS: WeakKeyDictionary[Crawler, dict[str, float]] = WeakKeyDictionary()
_SHARED_DELAYS: WeakKeyDictionary[Crawler, CrawlDelayExtension] = WeakKeyDictionary()
SHARED_DELAYS_POLL = 2.0  # seconds between reads of the other workers' Crawl-delays


def set_crawl_delay(crawler: Crawler, host: str, seconds: float) -> None:
    """Record a site's robots.txt Crawl-delay (the spider calls this when it reads robots.txt)."""
    _DELAYS.setdefault(crawler, {})[host] = seconds
    crawler.stats.set_value(f"news/crawl_delay/{host}", seconds)
    if (shared := _SHARED_DELAYS.get(crawler)) is not None:
        shared.share(host, seconds)


class CrawlDelayExtension:
    """Keeps each site's download-slot delay at least its Crawl-delay. Runs after AutoThrottle
    (a later EXTENSIONS entry connects later), which would otherwise lower it again.

    In a distributed crawl Crawl-delays also go through Redis (`<crawl>:crawl_delay`) and every
    worker reads them back: a worker honours a delay another worker read before its own robots
    middleware fetched that site's robots.txt."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        settings = crawler.settings
        if redis_enabled(settings) and crawler.spidercls is not None:
            self.server = redis_client(settings)
            self.shared_key = crawl_key(settings, crawler.spidercls.name, "crawl_delay")
            _SHARED_DELAYS[crawler] = self
            self.poll = task.LoopingCall(self.load_shared)
            crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def share(self, host: str, seconds: float) -> None:
        self.server.hset(self.shared_key, host, seconds)

    def load_shared(self) -> None:
        try:
            shared = self.server.hgetall(self.shared_key)
        except Exception as exc:  # a Redis hiccup must not stop the poll loop
            logger.warning("could not read shared Crawl-delays: %r", exc)
            return
        delays = _DELAYS.setdefault(self.crawler, {})
        for host, seconds in shared.items():
            delays[host.decode()] = float(seconds)

    def spider_opened(self) -> None:
        self.poll.start(SHARED_DELAYS_POLL, now=True)

    def spider_closed(self) -> None:
        if self.poll.running:
            self.poll.stop()

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


class InterruptExtension:
    """Records which signal stopped the run, and after how many pages, for its manifest and
    exit status (pipelines.outcome: `interrupted`, exit 6).

    Scrapy turns the first SIGINT/SIGTERM into a graceful stop with the close reason
    `shutdown`, which says neither which signal came nor when. Its handlers are installed when
    the reactor starts, before the engine does; at `engine_started` each is wrapped by one that
    notes the signal, then calls Scrapy's (which installs its forcing handler for a second
    signal). The note is written to the stats from the reactor, not in the handler: a stats
    dict growing under a loop that iterates it would raise there."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.received: str | None = None
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> InterruptExtension:
        return cls(crawler)

    def engine_started(self) -> None:
        for signum in SHUTDOWN_SIGNALS:
            previous = signal.getsignal(signum)
            if callable(previous):  # no Python handler (embedded runs): leave the default
                signal.signal(signum, self._noting(previous))

    def _noting(self, previous: Any) -> Any:
        def handler(signum: int, frame: FrameType | None) -> Any:
            if self.received is None:
                from twisted.internet import reactor  # the running one (never install one here)

                self.received = signal.Signals(signum).name
                reactor.callFromThread(self._record)  # type: ignore[attr-defined]
            return previous(signum, frame)

        return handler

    def _record(self) -> None:
        stats = self.crawler.stats
        stats.set_value(INTERRUPTED_BY_STAT, self.received)
        stats.set_value(INTERRUPTED_AFTER_STAT, stats.get_value("response_received_count", 0))
