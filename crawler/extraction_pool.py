"""Extraction off the reactor: a process pool, so fetching and extraction overlap on all cores.

trafilatura takes ~5-10 ms of CPU per page; run in Scrapy's reactor thread it stalls every
download meanwhile. Here pages go to `NEWS_EXTRACT_PROCESSES` worker processes (default: the
machine's cores; 0 = extract in the reactor thread, as `scrapy extract` does). At most
`2 x processes` pages wait for a worker; the rest wait as responses in Scrapy's scraper slot,
whose size limit (SCRAPER_SLOT_MAX_ACTIVE_SIZE) then pauses downloading: back-pressure, so
memory stays flat when extraction is the bottleneck.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from crawler.extraction import Extraction, extract


def _warm_up() -> None:
    """Load trafilatura, lxml and the language model once per worker, not per page."""
    extract("<html><body><p>warm up</p></body></html>", "https://example.org/")


class ExtractionPool:
    def __init__(self, processes: int | None) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self._pool: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: no fork of a process that already runs threads (S3 uploads, the reactor)
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
            self._slots = asyncio.Semaphore(2 * self.processes)
        return self._pool

    async def extract(self, html: str, url: str, **options: Any) -> Extraction:
        if self.processes <= 0:
            return extract(html, url, **options)
        pool = self._start()
        assert self._slots is not None
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool, _extract_call, html, url, options)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _extract_call(html: str, url: str, options: dict[str, Any]) -> Extraction:
    return extract(html, url, **options)
