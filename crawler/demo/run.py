"""`make crawl`: serve the demo site on 127.0.0.1, crawl it with `scrapy crawl news`, report.

python -m crawler.demo.run [--archive archive] [--port 8642]

The site is served on the same port every time, so the archive sees the same URLs run after
run: a second `make crawl` stores no new articles (conditional requests, the seen-store).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import DEMO_PORT, DemoServer, PortInUseError
from crawler.storage_base import new_run_id
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
    statuses: Counter[int] = Counter()  # HTTP status of every fetch, revisits included
    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    for warc in warcs:
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                record_types[record.rec_type] += 1
                if record.rec_type in ("response", "revisit") and record.http_headers:
                    statuses[int(record.http_headers.get_statuscode())] += 1
    return {
        "articles": articles,
        "warc_files": len(warcs),
        "records": dict(record_types),
        "statuses": dict(sorted(statuses.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="archive", help="ARCHIVE_URI to crawl into")
    parser.add_argument(
        "--port", type=int, default=DEMO_PORT, help="port of the demo site on 127.0.0.1"
    )
    args = parser.parse_args(argv)
    run_id = new_run_id()
    try:
        server = DemoServer(port=args.port).start()
    except PortInUseError as exc:
        print(f"demo: {exc.strerror} (make crawl DEMO_PORT=N)", file=sys.stderr)
        return 1
    with server:
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
    print(f"  text:  {run_dir / 'text'}  ({summary['articles']} new or changed articles stored)")
    print(
        f"  warc:  {run_dir / 'warc'}  ({summary['warc_files']} file(s), "
        f"records {summary['records']})"
    )
    print(f"  HTTP statuses: {summary['statuses']}  (304: unchanged since an earlier run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
