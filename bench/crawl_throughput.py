"""Crawl throughput and memory, side by side in one run (issue #7).

    python bench/crawl_throughput.py [--pages 3000] [--growth]

A page server in its own process serves N realistic pages (the extraction fixtures and demo
articles under distinct URLs, listed in /sitemap.xml) on 127.0.0.1. Each mode then runs in a
fresh process and reports pages/s and peak RSS:
  bare   Scrapy fetching the pages, no extraction
  naive  a spider calling trafilatura inside parse()
  full   the project's `news` spider: pooled extraction + WARC + text + manifest
  pool   the extraction pool alone on the same pages (no fetching)
--growth also runs `full` at 5,000 and 20,000 pages and compares peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CRAWL_SETTINGS = {
    "LOG_LEVEL": "WARNING",
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "NEWS_ALLOWED_NETWORKS": ["127.0.0.0/8"],
    "NEWS_MAX_AGE_DAYS": 0,
    "DEPTH_LIMIT": 1,
}


def corpus() -> list[bytes]:
    """Article pages to serve, round robin."""
    fixtures = json.loads((ROOT / "tests/fixtures/extraction/expected.json").read_text())
    pages = [
        (ROOT / "tests/fixtures/extraction" / e["file"]).read_bytes()
        for e in fixtures
        if e["kind"] == "article"
    ]
    demo = json.loads((ROOT / "crawler/demo/pages.json").read_text())
    for page in demo:
        if page["kind"] == "article":
            path = ROOT / "crawler/demo/site" / page["path"].strip("/")
            path = path / "index.html" if page["path"].endswith("/") else path
            pages.append(path.read_bytes())
    return pages


def serve(port_queue: Any, pages: int) -> None:
    bodies = corpus()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/sitemap.xml"):
                count = int(self.path.partition("?n=")[2] or pages)
                urls = "".join(f"<url><loc>{base}/p/{i}/</loc></url>" for i in range(count))
                body = (
                    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                    f'sitemap/0.9">{urls}</urlset>'
                ).encode()
                ctype = "application/xml"
            elif self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nDisallow:\n", "text/plain"
            elif self.path.startswith("/p/"):
                number = int(self.path.split("/")[2])
                body, ctype = bodies[number % len(bodies)], "text/html; charset=utf-8"
            else:
                body, ctype = b"not found", "text/plain"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run_mode(mode: str, base: str, pages: int) -> dict[str, Any]:
    """Inside a fresh process: one mode, timed from start to close."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.discovery import sitemap_entries

    if mode == "pool":
        import asyncio

        from crawler.extraction_pool import ExtractionPool

        bodies = corpus()
        pool = ExtractionPool(None)

        async def all_pages() -> None:
            await pool.extract("<html></html>", "https://example.org/")  # start the workers
            started = time.perf_counter()
            await asyncio.gather(*[
                pool.extract(bodies[i % len(bodies)].decode("utf-8", "replace"),
                             f"{base}/p/{i}/") for i in range(pages)
            ])  # fmt: skip
            results["seconds"] = time.perf_counter() - started

        results: dict[str, Any] = {}
        asyncio.run(all_pages())
        pool.close()
        own, child = peak_rss_mb()
        return {"pages": pages, "seconds": results["seconds"], "rss_mb": own, "child_mb": child}

    done = {"pages": 0}

    class BenchSpider(scrapy.Spider):
        name = f"bench-{mode}"
        start_urls: ClassVar[list[str]] = [f"{base}/sitemap.xml?n={pages}"]
        custom_settings: ClassVar[dict[str, Any]] = {
            "ITEM_PIPELINES": {}, "EXTENSIONS": {}, "ROBOTSTXT_OBEY": False
        }

        def parse(self, response: Any) -> Any:
            for entry in sitemap_entries(response):
                yield scrapy.Request(entry.url, callback=self.page)

        def page(self, response: Any) -> Any:
            done["pages"] += 1
            if mode == "naive":
                import trafilatura

                doc = trafilatura.bare_extraction(response.text, url=response.url,
                                                  with_metadata=True)  # fmt: skip
                yield {"url": response.url, "text": doc.text if doc else ""}

    settings = get_project_settings()
    settings.setdict(CRAWL_SETTINGS, priority="cmdline")
    archive = tempfile.mkdtemp(prefix="bench-archive-")
    settings.set("ARCHIVE_URI", archive, priority="cmdline")
    process = CrawlerProcess(settings)
    if mode == "full":
        crawler = process.create_crawler("news")
        process.crawl(crawler, urls=f"{base}/sitemap.xml?n={pages}")
    else:
        crawler = process.create_crawler(BenchSpider)
        process.crawl(crawler)
    started = time.perf_counter()
    process.start()
    seconds = time.perf_counter() - started
    stats = crawler.stats.get_stats()
    fetched = stats.get("response_received_count", 0) - 1  # minus the sitemap
    own, child = peak_rss_mb()
    return {"pages": fetched, "seconds": seconds, "rss_mb": own, "child_mb": child,
            "articles": stats.get("news/articles")}  # fmt: skip


def measure(mode: str, base: str, pages: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--run", mode, "--base", base, "--pages", str(pages)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["pages_per_s"] = result["pages"] / result["seconds"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--growth", action="store_true", help="also full at 5k and 20k pages")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run_mode(args.run, args.base, args.pages)))
        return 0
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, max(args.pages, 20000)),
                                     daemon=True)  # fmt: skip
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    try:
        results = {m: measure(m, base, args.pages) for m in ("bare", "naive", "full", "pool")}
        print(f"{args.pages} pages from {base}, {multiprocessing.cpu_count()} cores\n")
        print(f"{'mode':8}{'pages':>8}{'pages/s':>10}{'peak RSS MB':>13}{'worker MB':>11}")
        for mode, r in results.items():
            print(f"{mode:8}{r['pages']:>8}{r['pages_per_s']:>10.1f}{r['rss_mb']:>13.0f}"
                  f"{r['child_mb']:>11.0f}")  # fmt: skip
        full, naive = results["full"]["pages_per_s"], results["naive"]["pages_per_s"]
        ceiling = min(results["bare"]["pages_per_s"], results["pool"]["pages_per_s"])
        print(f"\nfull / naive = {full / naive:.2f}x (target >= 1.6x)")
        print(f"full / min(bare, pool) = {full / ceiling:.0%} (target >= 85%)")
        print(f"full peak RSS = {results['full']['rss_mb']:.0f} MB main process "
              f"(+ {results['full']['child_mb']:.0f} MB largest worker) (target <= 300 MB)")
        if args.growth:
            small, large = (measure("full", base, n) for n in (5000, 20000))
            growth = large["rss_mb"] / small["rss_mb"] - 1
            print(f"peak RSS 5k -> 20k pages: {small['rss_mb']:.0f} -> {large['rss_mb']:.0f} MB "
                  f"({growth:+.0%}, target < +10%)")
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
