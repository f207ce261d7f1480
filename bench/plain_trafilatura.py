"""bench/crawl_throughput.py's `plain` mode: trafilatura alone, the CPU yardstick of #23."""

from __future__ import annotations

import time
from typing import Any

from bench.cpu_meter import peak_rss_mb
from bench.page_server import corpus, page_body, page_path, real_body, real_corpus


def plain_trafilatura(
    base: str, pages: int, synthetic: bool, pages_dir: str | None
) -> dict[str, Any]:
    """trafilatura's bare_extraction on the pages the crawl modes fetch, timed page by page
    (CPU of this process: the first page, warming trafilatura up, left out)."""
    import trafilatura

    real = [] if synthetic else real_corpus(base, pages_dir)
    bodies = corpus() if synthetic else []
    trafilatura.bare_extraction("<html><body><p>warm up</p></body></html>", url=base)
    cpu = 0.0
    started = time.perf_counter()
    for i in range(pages):
        page = page_body(bodies, i) if synthetic else real_body(real, base, i)
        url = f"{base}/p/{i}/" if synthetic else base + page_path(real, i)
        html = page.decode("utf-8", "replace")
        before = time.process_time()
        trafilatura.bare_extraction(html, url=url)
        cpu += time.process_time() - before
    seconds = time.perf_counter() - started
    own, child = peak_rss_mb()
    per_page = 1000 * cpu / pages
    return {"pages": pages, "seconds": seconds, "rss_mb": own, "child_mb": child,
            "main_ms": per_page, "workers_ms": 0.0, "run_main_ms": per_page,
            "run_workers_ms": 0.0}  # fmt: skip
