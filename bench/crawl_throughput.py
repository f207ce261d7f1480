"""Crawl throughput and memory, side by side in one run (issues #7, #15).

    python bench/crawl_throughput.py [--pages 3000] [--repeat 3] [--growth] [--synthetic]
    python bench/crawl_throughput.py --pages-dir ../shared/datebench   # another page set
    python bench/crawl_throughput.py --profile full.pstats   # cProfile of the crawl process

A lean page server in its own process (asyncio, responses built once: ~0.05 ms CPU a page)
serves N pages listed in /sitemap.xml on 127.0.0.1. By default they are the real news pages of
../shared/newsbench (169 pages of 118 publishers, ~330 KB each, read from there, never copied),
each at its original path (repetition k > 0 under /r<k>/), with its own links: a link to the
page's own site (https://www.publisher.tld/...) is pointed at this server, as the site it was
on, so the ~100 in-site links of a real page reach the crawler's link handling. Links keep no
repetition prefix (but a page's links to itself, canonical and og:url, point at its own
repetition, else it would be an unchanged copy of the first), so every repetition links to the
same site-wide URLs (12,220 distinct ones), as the navigation of a real site does. What is not
one of our pages gets a small 404 page: a real site would serve real section and article pages
there, but we have no such pages, and a 404 costs the crawler its fetch and WARC record only
(Scrapy drops non-2xx before the spider), so link following is measured without inventing
pages. --pages-dir serves another page set of that format instead (pages.jsonl and
html/<id>.html.gz, e.g. ../shared/datebench). --synthetic serves the extraction fixtures and
demo articles instead (few links; the bench of issue #7). Each page's payload is made unique
by a trailing comment, as on a real news site, so WARC deduplication writes full response
records, not revisits.
Each mode then runs in a fresh process and reports pages/s, peak RSS, and CPU milliseconds per
page of the main process (all its threads), of the extraction workers and of the server.
"steady" CPU is measured between the 10th percentile page and the last page (start-up and
close left out); "run" CPU is the whole process lifetime divided by the pages. On a shared VM
both vary from run to run (seen here: +-20% between two identical runs), so every mode runs
--repeat times (default 3), interleaved with the others, and its median round (by pages/s) is
reported. Each mode's total CPU (main + workers, steady) is set against `plain`'s, measured in
the same rounds: the ratio is what the issue #23 target (<= 1.2x) is about.
  bare   Scrapy fetching the pages, no extraction
  naive  a spider calling trafilatura inside parse()
  full   the project's `news` spider: pooled extraction + WARC + text + manifest
  pool   the extraction pool alone on the same pages (no fetching)
  plain  trafilatura's bare_extraction (defaults, the page's URL) on the same pages, in one
         process, no crawl: the CPU a page costs trafilatura alone
--growth also runs `full` at 5,000 and 20,000 pages and compares peak RSS.

What the bench overrides in the project's settings (CRAWL_SETTINGS): politeness (no delays,
no AutoThrottle, 32 requests in flight to the one site), loopback allowed, no age limit on
sitemap entries, LOG_LEVEL WARNING, and DEPTH_LIMIT 1 (--depth-limit): the pages are listed in
a sitemap (depth 0), so they are at the depth limit and their links are not followed, the case
measured in issue #15; --depth-limit 2 follows them too (each once, 404 for those we lack;
NEWS_MAX_PAGES_PER_DOMAIN, 10,000, then caps the one site's requests).
Everything else is the project's own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cpu_meter import CpuMeter, peak_rss_mb, process_cpu  # noqa: E402
from bench.page_server import (  # noqa: E402
    corpus,
    page_body,
    page_path,
    page_set,
    real_body,
    real_corpus,
    serve,
)
from bench.plain_trafilatura import plain_trafilatura  # noqa: E402

NEWSBENCH = ROOT.parent / "shared" / "newsbench"

MODES = ("bare", "naive", "full", "pool", "plain")
CRAWL_SETTINGS = {
    "LOG_LEVEL": "WARNING",
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "NEWS_ALLOWED_NETWORKS": ["127.0.0.0/8"],
    "NEWS_MAX_AGE_DAYS": 0,
}


def run_mode(
    mode: str,
    base: str,
    pages: int,
    processes: int | None,
    overrides: dict[str, str],
    synthetic: bool = False,
    profile: str | None = None,
    pages_dir: str | None = None,
) -> dict[str, Any]:
    """Inside a fresh process: one mode, timed from start to close (under cProfile, its
    stats saved to `profile`, when given)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.discovery.documents import sitemap_entries

    if mode == "plain":
        return plain_trafilatura(base, pages, synthetic, pages_dir)
    if mode == "pool":
        import asyncio

        from crawler.extract.pool import ExtractionPool

        real = [] if synthetic else real_corpus(base, pages_dir)
        bodies = corpus() if synthetic else []
        urls = [f"{base}/p/{i}/" if synthetic else base + page_path(real, i) for i in range(pages)]
        pool = ExtractionPool(processes)
        meter = CpuMeter(0)

        async def one(i: int) -> None:
            page = page_body(bodies, i) if synthetic else real_body(real, base, i)
            await pool.extract(page.decode("utf-8", "replace"), urls[i])
            meter.page_done()

        async def all_pages() -> None:
            await pool.extract("<html></html>", "https://example.org/")  # start the workers
            meter.page_done(0)
            started = time.perf_counter()
            await asyncio.gather(*[one(i) for i in range(pages)])
            results["seconds"] = time.perf_counter() - started
            meter.finish()

        results: dict[str, Any] = {}
        asyncio.run(all_pages())
        pool.close()
        own, child = peak_rss_mb()
        return {"pages": pages, "seconds": results["seconds"], "rss_mb": own, "child_mb": child,
                **meter.results()}  # fmt: skip

    meter = CpuMeter(max(100, pages // 10))

    class BenchSpider(scrapy.Spider):
        name = f"bench-{mode}"
        start_urls: ClassVar[list[str]] = [f"{base}/sitemap.xml?n={pages}"]
        custom_settings: ClassVar[dict[str, Any]] = {
            "ITEM_PIPELINES": {},
            "EXTENSIONS": {},
            "ROBOTSTXT_OBEY": False,
        }

        def parse(self, response: Any) -> Any:
            for entry in sitemap_entries(response):
                yield scrapy.Request(entry.url, callback=self.page)

        def page(self, response: Any) -> Any:
            if mode == "naive":
                import trafilatura

                doc = trafilatura.bare_extraction(response.text, url=response.url,
                                                  with_metadata=True)  # fmt: skip
                yield {"url": response.url, "text": doc.text if doc else ""}

    settings = get_project_settings()
    settings.setdict({**CRAWL_SETTINGS, **overrides}, priority="cmdline")
    if processes is not None:
        settings.set("NEWS_EXTRACT_PROCESSES", processes, priority="cmdline")
    archive = tempfile.mkdtemp(prefix="bench-archive-")
    settings.set("ARCHIVE_URI", archive, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("news" if mode == "full" else BenchSpider)

    def received(response: Any) -> None:
        """Counts the served pages, not robots.txt, the sitemap or the 404s of dead links."""
        if response.status == 200 and response.url != start and "/robots.txt" not in response.url:
            meter.page_done()

    start = f"{base}/sitemap.xml?n={pages}"
    # Connected before the spider's own handlers: the last snapshot is taken while the
    # extraction workers still live, once every page has gone through the pipelines.
    crawler.signals.connect(received, signal=scrapy.signals.response_received)
    crawler.signals.connect(meter.finish, signal=scrapy.signals.spider_idle)
    if mode == "full":
        process.crawl(crawler, urls=f"{base}/sitemap.xml?n={pages}")
    else:
        process.crawl(crawler)
    started = time.perf_counter()
    if profile:
        import cProfile

        with cProfile.Profile() as profiler:
            process.start()
        profiler.dump_stats(profile)
    else:
        process.start()
    seconds = time.perf_counter() - started
    stats = crawler.stats.get_stats()
    own, child = peak_rss_mb()
    return {"pages": meter.pages, "seconds": seconds, "rss_mb": own, "child_mb": child,
            "articles": stats.get("news/articles"),
            "not_stored": {k: v for k, v in stats.items()
                           if k.startswith(("news/not_article/", "news/skipped/"))},
            "other_responses": stats.get("response_received_count", 0) - meter.pages,
            **meter.results()}  # fmt: skip


def measure(
    mode: str,
    base: str,
    pages: int,
    processes: int | None,
    overrides: list[str],
    synthetic: bool = False,
    profile: str | None = None,
    pages_dir: str | None = None,
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--run", mode, "--base", base, "--pages", str(pages)]
    if pages_dir:
        command += ["--pages-dir", pages_dir]
    if processes is not None:
        command += ["--processes", str(processes)]
    if synthetic:
        command.append("--synthetic")
    if profile:
        command += ["--profile", profile]
    for item in overrides:
        command += ["--set", item]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["pages_per_s"] = result["pages"] / result["seconds"]
    return result


def cpu_pages_per_s(result: dict[str, Any]) -> float | None:
    """Pages per CPU-second of the crawl process and its workers (steady state)."""
    if "main_ms" not in result:
        return None
    return 1000 / (result["main_ms"] + result["workers_ms"])


def print_profile(path: str, result: dict[str, Any], top: int = 30) -> None:
    """The crawl process's top costs: own time, then cumulative time."""
    import pstats

    print(f"full: {result['pages']} pages, {result['pages_per_s']:.1f} pages/s, main CPU "
          f"{ms(result, 'main_ms')} ms/page steady (profiled: slower than unprofiled)")  # fmt: skip
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def ms(result: dict[str, Any], key: str) -> str:
    return f"{result[key]:.2f}" if key in result else "-"


def total_ms(result: dict[str, Any]) -> float | None:
    """CPU ms a page, main process and workers, steady state."""
    if "main_ms" not in result:
        return None
    return result["main_ms"] + result["workers_ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--growth", action="store_true", help="also full at 5k and 20k pages")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every mode (best kept)")
    parser.add_argument(
        "--processes", type=int, help="NEWS_EXTRACT_PROCESSES for full and pool (default: cores)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="override a project setting in every mode, e.g. CONCURRENT_ITEMS=10 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--synthetic", action="store_true", help="issue #7's few-link pages")
    parser.add_argument(
        "--pages-dir", metavar="DIR",
        help="another page set (pages.jsonl + html/<id>.html.gz), e.g. ../shared/datebench",
    )  # fmt: skip
    parser.add_argument(
        "--depth-limit", type=int, default=1,
        help="DEPTH_LIMIT (1: the pages are at the limit; 2: their links are followed too)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", metavar="PATH",
        help="only run `full` once under cProfile (the crawl process), save its stats to PATH "
        "and print its top costs",
    )  # fmt: skip
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = [f"DEPTH_LIMIT={args.depth_limit}", *args.set]
    if args.run:
        overrides = dict(item.split("=", 1) for item in settings)
        result = run_mode(args.run, args.base, args.pages, args.processes, overrides,
                          args.synthetic, args.profile, args.pages_dir)  # fmt: skip
        print(json.dumps(result))
        return 0
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve,
        args=(ports, max(args.pages, 20000), args.synthetic, args.pages_dir),
        daemon=True,
    )
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    try:
        if args.profile:
            result = measure("full", base, args.pages, args.processes, settings,
                             args.synthetic, args.profile, args.pages_dir)  # fmt: skip
            print_profile(args.profile, result)
            return 0
        modes = [m for m in args.modes.split(",") if m]
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for _round in range(args.repeat):  # modes interleaved: a slow spell hits them all
            for mode in modes:
                before = process_cpu(server.pid)
                result = measure(mode, base, args.pages, args.processes, settings,
                                 args.synthetic, pages_dir=args.pages_dir)  # fmt: skip
                result["server_ms"] = 1000 * (process_cpu(server.pid) - before) / args.pages
                runs[mode].append(result)
        # the median round of each mode (by pages/s): a shared machine's noise both ways
        results = {mode: sorted(rs, key=lambda r: r["pages_per_s"])[len(rs) // 2]
                   for mode, rs in runs.items()}  # fmt: skip
        print(f"{args.pages} pages of {page_set(args.pages_dir)} from {base}, "
              f"{multiprocessing.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
              f"median of {args.repeat} interleaved rounds (all rounds' pages/s in brackets)"
              "\n")  # fmt: skip
        print("CPU ms/page: steady state (whole run)")
        plain = total_ms(results["plain"]) if "plain" in results else None
        print(f"{'mode':6}{'pages':>7}{'pages/s':>9}{'main CPU':>16}{'workers CPU':>16}"
              f"{'total':>8}{'/plain':>8}{'server CPU':>12}{'peak RSS MB':>13}"
              f"{'worker MB':>11}")  # fmt: skip
        for mode, r in results.items():
            spread = ", ".join(f"{x['pages_per_s']:.0f}" for x in runs[mode])
            main_cpu = f"{ms(r, 'main_ms')} ({ms(r, 'run_main_ms')})"
            workers_cpu = f"{ms(r, 'workers_ms')} ({ms(r, 'run_workers_ms')})"
            total = total_ms(r)
            ratio = f"{total / plain:.2f}x" if total is not None and plain else "-"
            total_cpu = f"{total:.1f}" if total is not None else "-"
            print(f"{mode:6}{r['pages']:>7}{r['pages_per_s']:>9.1f}{main_cpu:>16}"
                  f"{workers_cpu:>16}{total_cpu:>8}{ratio:>8}{r['server_ms']:>12.2f}"
                  f"{r['rss_mb']:>13.0f}{r['child_mb']:>11.0f}  [{spread}]")  # fmt: skip
        if (
            plain
            and "full" in results
            and results["full"].get("articles")
            and "main_ms" in (results["full"])
        ):
            full = results["full"]
            stored = (total_ms(full) or 0.0) * full["pages"] / full["articles"]
            print(f"\nfull: {stored:.1f} CPU ms per stored page (main + workers) = "
                  f"{stored / plain:.2f}x plain bare_extraction's {plain:.1f} ms/page "
                  "in the same rounds (target <= 1.2x)")  # fmt: skip
        if {"full", "naive"} <= results.keys():
            full, naive = results["full"]["pages_per_s"], results["naive"]["pages_per_s"]
            rounds = zip(runs["full"], runs["naive"], strict=True)
            median = statistics.median(f["pages_per_s"] / n["pages_per_s"] for f, n in rounds)
            print(f"\nfull / naive = {full / naive:.2f}x median rounds, {median:.2f}x median of "
                  "the rounds' own ratios (target >= 1.6x)")  # fmt: skip
        if {"full", "bare", "pool"} <= results.keys():
            full = results["full"]["pages_per_s"]
            ceiling = min(results["bare"]["pages_per_s"], results["pool"]["pages_per_s"])
            print(f"full / min(bare, pool) = {full / ceiling:.0%}; 85% of min(bare, pool) = "
                  f"{0.85 * ceiling:.1f} pages/s")  # fmt: skip
        if {"full", "pool"} <= results.keys():
            per_cpu = {mode: cpu_pages_per_s(results[mode]) for mode in ("full", "pool")}
            if all(per_cpu.values()):
                print(f"pages per CPU-second (main + workers, steady): full {per_cpu['full']:.1f}, "
                      f"pool {per_cpu['pool']:.1f}: full = {per_cpu['full'] / per_cpu['pool']:.0%} "
                      "of pool (target >= 70%)")  # fmt: skip
        if "full" in results and "reactor_ms" in results["full"]:
            print(f"full: reactor thread {results['full']['reactor_ms']:.2f} ms/page steady "
                  "(target <= 10; main CPU above adds the WARC writer thread)")  # fmt: skip
        if "full" in results:
            r = results["full"]
            every = ", ".join(str(x["articles"]) for x in runs["full"])
            print(f"full: {r['articles']} articles stored (every round: {every}), "
                  f"{r['other_responses']} other responses (robots.txt, sitemap, followed "
                  "links)")  # fmt: skip
            for x in runs["full"]:  # why pages went unstored: a round unlike the others shows
                print(f"  round not stored: {x.get('not_stored') or 'none'}")
        if "full" in results:
            print(
                f"full peak RSS = {results['full']['rss_mb']:.0f} MB main process "
                f"(+ {results['full']['child_mb']:.0f} MB largest worker) (target <= 300 MB)"
            )
        if args.growth:
            small, large = (
                measure(
                    "full",
                    base,
                    n,
                    args.processes,
                    settings,
                    args.synthetic,
                    pages_dir=args.pages_dir,
                )
                for n in (5000, 20000)
            )
            growth = large["rss_mb"] / small["rss_mb"] - 1
            print(
                f"peak RSS 5k -> 20k pages: {small['rss_mb']:.0f} -> {large['rss_mb']:.0f} MB "
                f"({growth:+.0%}, target < +10%); largest worker {small['child_mb']:.0f} -> "
                f"{large['child_mb']:.0f} MB"
            )
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
