"""Extraction off the reactor: a process pool, so fetching and extraction overlap on all cores.

trafilatura takes ~5-10 ms of CPU per page, and Scrapy's link extractor another ~2 ms (it
parses the page again); run in Scrapy's reactor thread they stall every download meanwhile.
Here an HTML page's body goes to one of `NEWS_EXTRACT_PROCESSES` worker processes (default: the
machine's cores; 0 = in the reactor thread, as `scrapy extract` does), which rebuilds the
response and returns everything the spider needs from it: the extraction, the feeds the page
advertises and its in-site links, those already canonical, each once and capped
(NEWS_MAX_LINKS_PER_PAGE), and none at all for a page at DEPTH_LIMIT, whose links would be
dropped: the reactor never decodes or parses the page, nor canonicalises its links. At most
`4 x processes` pages wait for a worker; the rest wait as responses in Scrapy's scraper slot,
whose size limit (SCRAPER_SLOT_MAX_ACTIVE_SIZE) then pauses downloading: back-pressure, so
memory stays flat when extraction is the bottleneck.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from scrapy.http import TextResponse

from crawler.discovery import documents as discovery
from crawler.discovery import links as page_links
from crawler.extract.extraction import Extraction, extract, extract_tree, parse_html

# pages handed to the pool per worker before the spider waits: 4 kept both cores ~5% busier than
# 2 in bench/crawl_throughput.py (a worker never waits for its next page); 8 bodies are ~150 KB
PAGES_PER_WORKER = 4
PARENT_POLL = 1.0  # seconds between a worker's checks that the crawl process still lives


@dataclass
class PageResult:
    """What the spider takes from one HTML page."""

    extraction: Extraction
    feeds: list[str]  # in-site feeds the page advertises
    links: list[str]  # in-site followable links, canonical, each once, at most the cap
    links_over_cap: int = 0  # further links the page had beyond the cap


@dataclass(frozen=True)
class LinkRequest:
    """Which of a page's links the spider wants: none for a page at DEPTH_LIMIT (`follow`
    False: its feeds and links would be dropped by Scrapy's DepthMiddleware anyway)."""

    domains: list[str]  # the spider's sites: links elsewhere are not followed
    follow: bool = True
    cap: int = 0  # NEWS_MAX_LINKS_PER_PAGE (0 = all)


def read_page(
    response: TextResponse, links: LinkRequest, *, fetched_at: str, min_chars: int
) -> PageResult:
    """Extract the page and find its feeds and links (in a worker, or inline), all from one
    parse (extraction prunes a copy, never this tree)."""
    tree = parse_html(response.text)
    if isinstance(tree, str):
        return PageResult(Extraction(None, tree), [], [])
    extraction = extract_tree(tree, response.url, fetched_at=fetched_at, min_chars=min_chars)
    if not links.follow:
        return PageResult(extraction, [], [])
    base = page_links.base_url(tree, response.url)  # one look for <base href>, for both
    feeds = [
        f for f in discovery.advertised_feeds(tree, base) if discovery.in_site(f, links.domains)
    ]
    found, over_cap = page_links.followable_links(
        tree, base, response.encoding, links.domains, links.cap
    )
    return PageResult(extraction, feeds, found, over_cap)


def warm_up() -> None:
    """Load trafilatura's lazily built parts (the language model among them) once."""
    extract("<html><body><p>warm up</p></body></html>", "https://example.org/")


def _start_worker(crawl: int) -> None:
    """Each worker exits with the crawl. It was forked from the fork server, which imported
    and warmed up trafilatura, lxml and the language model once (crawler.extract.warm), so a
    worker starts with them loaded instead of importing them again (~0.5 s CPU each)."""
    threading.Thread(target=_exit_with, args=(crawl,), daemon=True).start()


def _exit_with(crawl: int) -> None:
    """A crawl killed with SIGKILL cannot shut its pool down; without this its idle workers
    would linger as orphans (~80 MB each), one set per killed run. The crawl is the fork
    server's parent, not the worker's, and each worker keeps the server alive: so the worker
    watches the crawl itself (a pidfd, opened while it surely lives: no pid reuse)."""
    try:
        watched = os.pidfd_open(crawl)
    except (AttributeError, OSError):  # not Linux >= 5.3: poll the pid instead
        while _alive(crawl):
            time.sleep(PARENT_POLL)
    else:
        select.select([watched], [], [])  # readable once the crawl has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ExtractionPool:
    def __init__(self, processes: int | None) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self._pool: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: no fork of this process, which already runs threads (S3 uploads, the
            # reactor); workers are forked from a fresh server that preloaded the extractor
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["crawler.extract.warm"])
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            self._slots = asyncio.Semaphore(PAGES_PER_WORKER * self.processes)
        return self._pool

    async def extract(self, html: str, url: str, **options: Any) -> Extraction:
        if self.processes <= 0:
            return extract(html, url, **options)
        return await self._run(_extract_call, html, url, options)

    async def read_page(
        self, response: TextResponse, links: LinkRequest, *, fetched_at: str, min_chars: int
    ) -> PageResult:
        if self.processes <= 0:
            return read_page(response, links, fetched_at=fetched_at, min_chars=min_chars)
        # The body as bytes, undecoded: TextResponse takes its encoding from the body and the
        # Content-Type header alone, so the worker's rebuilt response decodes it the same way.
        content_type = response.headers.get(b"Content-Type")
        return await self._run(
            _read_page_call, type(response), response.url, response.body, content_type,
            links, fetched_at, min_chars,
        )  # fmt: skip

    async def _run(self, function: Any, *args: Any) -> Any:
        pool = self._start()
        assert self._slots is not None
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _extract_call(html: str, url: str, options: dict[str, Any]) -> Extraction:
    return extract(html, url, **options)


def _read_page_call(
    response_class: type[TextResponse],
    url: str,
    body: bytes,
    content_type: bytes | None,
    links: LinkRequest,
    fetched_at: str,
    min_chars: int,
) -> PageResult:
    headers = {b"Content-Type": content_type} if content_type is not None else None
    response = response_class(url=url, body=body, headers=headers)
    return read_page(response, links, fetched_at=fetched_at, min_chars=min_chars)
