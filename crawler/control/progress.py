"""A live progress line for `scrapy crawl` on a terminal, refreshed in place about once a second:

    1,204 pages · 312 articles · 2,871 queued · 14.2 pages/s

Scrapy's own LogStats line comes once a minute and says nothing of the frontier. This line is
written to stderr only when stderr is a terminal (NEWS_PROGRESS = "auto"), so cron logs, log
files and Scrapyd jobs never see it. A log message clears it first, and the next tick draws it
again under the message; the last line stays on screen when the crawl ends.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from typing import TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

INTERVAL = 1.0  # seconds between redraws
RATE_WINDOW = 10.0  # seconds of samples the pages/s figure is averaged over
CLEAR_LINE = "\r\x1b[K"  # back to column 0, erase to the end of the line


def progress_enabled(setting: object, stream: TextIO) -> bool:
    """NEWS_PROGRESS: "auto" (on when `stream` is a terminal), or a boolean (-s 1/0/true/false)."""
    if str(setting).strip().lower() == "auto":
        return stream.isatty()
    return str(setting).strip().lower() in ("1", "true", "yes", "on")


class _ClearProgressLine(logging.Filter):
    """On a handler writing to the progress stream: wipe the progress line before a message,
    so the message starts at column 0 instead of after the line."""

    def __init__(self, progress: CrawlProgress) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self.progress.clear()
        return True


class CrawlProgress:
    def __init__(self, crawler: Crawler, stream: TextIO, interval: float) -> None:
        self.crawler = crawler
        self.stream = stream
        self.interval = interval
        self.shown = False  # a progress line is on screen, not yet followed by a newline
        self.samples: deque[tuple[float, int]] = deque()  # (monotonic time, pages)
        self.loop = task.LoopingCall(self.draw)
        self.log_filter = _ClearProgressLine(self)
        self.handlers: list[logging.Handler] = []
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        stream = sys.stderr
        if not progress_enabled(crawler.settings.get("NEWS_PROGRESS", "auto"), stream):
            raise NotConfigured  # no message: a crawl without a terminal is the usual case
        return cls(crawler, stream, INTERVAL)

    def spider_opened(self) -> None:
        # handlers writing to our stream (Scrapy's root handler) clear the line before a message
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) is self.stream:
                handler.addFilter(self.log_filter)
                self.handlers.append(handler)
        self.loop.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
        self.draw()
        self.stream.write("\n")  # the last line stays, and what follows starts below it
        self.stream.flush()
        self.shown = False
        for handler in self.handlers:
            handler.removeFilter(self.log_filter)

    def line(self) -> str:
        stats = self.crawler.stats
        assert stats is not None
        pages = stats.get_value("response_received_count", 0)
        articles = stats.get_value("news/articles", 0)
        now = time.monotonic()
        self.samples.append((now, pages))
        while now - self.samples[0][0] > RATE_WINDOW:
            self.samples.popleft()
        first_time, first_pages = self.samples[0]
        rate = (pages - first_pages) / (now - first_time) if now > first_time else 0.0
        return (
            f"{pages:,} pages · {articles:,} articles · {self.queued()} queued · {rate:.1f} pages/s"
        )

    def queued(self) -> str:
        """Requests waiting in the scheduler: its len(), on disk, in memory or in Redis."""
        engine = self.crawler.engine
        scheduler = getattr(engine, "scheduler", None) if engine else None
        if scheduler is None:
            return "?"
        try:
            return f"{len(scheduler):,}"
        except Exception:  # a Redis hiccup must not stop the display, nor the crawl
            return "?"

    def draw(self) -> None:
        self.stream.write(CLEAR_LINE + self.line())
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write(CLEAR_LINE)
            self.shown = False
