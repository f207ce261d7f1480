"""JOBDIR after a kill: Scrapy saves its request queue and fingerprints on a clean shutdown
only. After SIGKILL (or a power cut) the disk queue's chunks and `requests.seen` disagree with
what was stored: a resumed run replays stale requests (articles stored twice) and skips
fingerprinted ones that were never stored (articles lost).

This extension leaves a marker in JOBDIR while a run is going and removes it on a clean close.
A marker found at start means the last run died: its queue and fingerprints are discarded
(spider.state is kept), and the run starts again from its seeds, with the seen-store and the
repaired text shards (pipelines.repair) deciding which articles are already stored.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.job import job_dir

logger = logging.getLogger(__name__)

MARKER = "newsarchiver.running"
# What Scrapy's scheduler and dupefilter keep in JOBDIR (scrapy/core/scheduler.py,
# scrapy/dupefilters.py).
SCHEDULER_STATE = ("requests.queue", "requests.seen")


class JobdirCrashGuard:
    def __init__(self, crawler: Crawler, folder: Path) -> None:
        self.crawler = crawler
        self.marker = folder / MARKER
        if self.marker.exists():
            self.discard(folder, self.marker.read_text(encoding="utf-8").strip())
        self.marker.write_text(f"pid {os.getpid()}\n", encoding="utf-8")
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobdirCrashGuard:
        folder = job_dir(crawler.settings)
        if not folder:
            # Nothing to guard. No message: Scrapy logs a NotConfigured message as a warning,
            # and a run without JOBDIR is the usual case, not a problem.
            raise NotConfigured
        return cls(crawler, Path(folder))

    def discard(self, folder: Path, holder: str) -> None:
        logger.warning(
            "JOBDIR %s: the previous run (%s) did not shut down cleanly; its request queue "
            "and fingerprints are unreliable after a kill and are discarded. The crawl starts "
            "again from its seeds; stored articles are skipped through the seen-store.",
            folder, holder or "unknown",
        )  # fmt: skip
        for name in SCHEDULER_STATE:
            path = folder / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("news/jobdir_discarded_after_crash", 1)

    def spider_closed(self) -> None:
        self.marker.unlink(missing_ok=True)  # a clean stop: Scrapy saved a consistent state
