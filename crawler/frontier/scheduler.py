"""Which scheduler a crawl uses, and the local one that keeps its queue on disk.

Without JOBDIR, Scrapy's scheduler holds every queued request in memory (~700 bytes each): a
20,000-URL sitemap alone put ~14 MB in the queue, and peak RSS grew with the crawl. Here the
queue goes to Scrapy's own disk queues (SCHEDULER_DISK_QUEUE) in a folder of the archive's
state (`.state/<spider>-frontier/`), as if JOBDIR were set, so memory stays flat however long
the frontier; the folder is removed when the run ends (and, after a kill, by the next run: the
crawl lock makes it the only one). The dupefilter is not persisted; with JOBDIR set, Scrapy's
scheduler runs unchanged (resumable jobs). With REDIS_URL set the queue is in Redis instead
(crawler/frontier/redis_scheduler.py).
"""

from __future__ import annotations

import pickle
import shutil
import struct
from pathlib import Path
from typing import Any

from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.job import job_dir

from crawler.frontier.distributed import SCHEDULER as REDIS_SCHEDULER
from crawler.frontier.distributed import redis_enabled
from crawler.storage_base import STORAGE_ERRORS, storage_broken, storage_failed

# What reading a queue record cut short by a full disk raises (queuelib ignores short writes).
TORN_RECORD = (pickle.UnpicklingError, EOFError, struct.error, ValueError, *STORAGE_ERRORS)

LOCAL_SCHEDULER = "crawler.frontier.scheduler.DiskQueueScheduler"


class SchedulerAddon:
    """REDIS_URL set: the shared Redis scheduler of a distributed crawl; else the local one
    with its queue on disk. An add-on, so `-s SCHEDULER=...` still wins."""

    def update_settings(self, settings: BaseSettings) -> None:
        chosen = REDIS_SCHEDULER if redis_enabled(settings) else LOCAL_SCHEDULER
        settings.set("SCHEDULER", chosen, priority="addon")

    @classmethod
    def from_crawler(cls, crawler: Any) -> SchedulerAddon:
        return cls()


class DiskQueueScheduler(Scheduler):
    frontier: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DiskQueueScheduler:
        scheduler = super().from_crawler(crawler)
        if job_dir(crawler.settings) is None and crawler.spidercls is not None:
            from crawler.storage_base import state_path

            folder = state_path(crawler, "-frontier")
            shutil.rmtree(folder, ignore_errors=True)  # a killed run's queue: never replayed
            scheduler.frontier = folder
            scheduler.dqdir = scheduler._dqdir(str(folder))
        return scheduler

    # The frontier lives on the archive's disk: when that disk fails (full, read-only) the
    # crawl is stopping (storage_failed) and the queue is never replayed, so a failed push
    # keeps the request in memory and a torn record ends the disk queue, instead of an
    # exception in the engine's task that left the spider closing forever.
    def _dqpush(self, request: Any) -> bool:
        if self.frontier is not None and storage_broken(self.crawler):
            return False
        try:
            return super()._dqpush(request)
        except STORAGE_ERRORS as error:
            storage_failed(self.crawler, self.frontier, error)
            return False

    def _dqpop(self) -> Any:
        try:
            return super()._dqpop()
        except TORN_RECORD as error:
            if self.frontier is None:
                raise  # JOBDIR: Scrapy's own queue, its own errors
            if not storage_broken(self.crawler):
                storage_failed(self.crawler, self.frontier, OSError(f"torn queue record: {error}"))
            self.dqs = None  # the rest of the disk queue is unreadable; it is dropped
            return None

    def close(self, reason: str) -> Any:
        if self.frontier is None:
            return super().close(reason)
        try:  # the state Scrapy saves for a resumable JOBDIR: ours is deleted next
            result = super().close(reason)
        except STORAGE_ERRORS:
            result = None
        shutil.rmtree(self.frontier, ignore_errors=True)
        return result
