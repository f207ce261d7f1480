"""`make crawl`: serve the demo site on 127.0.0.1, crawl it with `scrapy crawl news`, report.

python -m crawler.demo.run [--archive archive]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import DemoServer
from pipelines.run import new_run_id
from pipelines.text import read_text_records

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def crawl_command(base_url: str, archive: str, run_id: str) -> list[str]:
    """The CLI call a person would type; politeness is relaxed only because the site is ours."""
    seeds = ",".join([f"{base_url}/", f"{base_url}/feed.xml", f"{base_url}/sitemap.xml"])
    return [
        sys.executable, "-m", "scrapy", "crawl", "news",
        "-a", f"urls={seeds}",
        "-s", f"ARCHIVE_URI={archive}",
        "-s", f"ARCHIVE_RUN_ID={run_id}",
        "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "NEWS_ALLOWED_NETWORKS=127.0.0.0/8,::1/128",  # the SSRF guard refuses loopback
        "-s", "WACZ_ENABLED=True",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip


def summarize(run_dir: Path) -> dict[str, object]:
    articles = sum(1 for _ in read_text_records(run_dir / "text"))
    record_types: Counter[str] = Counter()
    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    for warc in warcs:
        with warc.open("rb") as handle:
            record_types.update(r.rec_type for r in ArchiveIterator(handle))
    return {"articles": articles, "warc_files": len(warcs), "records": dict(record_types)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="archive", help="ARCHIVE_URI to crawl into")
    args = parser.parse_args(argv)
    run_id = new_run_id()
    with DemoServer() as server:
        print(f"demo site: {server.base_url}/ (serving on loopback until the crawl ends)")
        code = subprocess.call(
            crawl_command(server.base_url, args.archive, run_id), cwd=PROJECT_ROOT
        )
    run_dir = (PROJECT_ROOT / args.archive / "news" / run_id).resolve()
    if code != 0 or not run_dir.is_dir():
        print(f"crawl failed (exit {code}); nothing at {run_dir}", file=sys.stderr)
        return code or 1
    summary = summarize(run_dir)
    print(f"\narchive: {run_dir}")
    print(f"  text:  {run_dir / 'text'}  ({summary['articles']} articles stored)")
    print(
        f"  warc:  {run_dir / 'warc'}  ({summary['warc_files']} file(s), "
        f"records {summary['records']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
