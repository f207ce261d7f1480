"""End to end: `scrapy crawl news` over real HTTP against the demo site on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.run import summarize
from crawler.demo.server import DemoServer
from tests.conftest import FAST, PROJECT_ROOT, SEED_PAGE, demo_pages, scrapy, text_records

# The seed document's chrome that must not reach the stored text (issue #2).
SEED_CHROME = [
    "Please enter your comment",
    "Please enter your name",
    "Most Popular",
    "Recent Comments",
    "spot_img",
    "Billie Eilish",
]


@dataclass
class Crawl:
    server: DemoServer
    result: subprocess.CompletedProcess[str]
    run_dir: Path
    seed_file: Path
    requests: list[tuple[str, str, int]]

    @property
    def records(self) -> list[dict[str, Any]]:
        return text_records(self.run_dir)

    def warcs(self) -> list[Path]:
        return sorted((self.run_dir / "warc").glob("*.warc.gz"))


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    tmp = tmp_path_factory.mktemp("crawl")
    with DemoServer() as server:
        base = server.base_url
        seed_file = tmp / "seeds" / "demo.txt"
        seed_file.parent.mkdir()
        seed_file.write_text(
            "# the demo site: home page, feed and sitemap\n"
            f"{base}/\n"
            "\n"
            "not a url at all\n"
            f"{base}/feed.xml   # RSS\n"
            "ftp://files.example.org/news.txt\n"
            "file:///etc/passwd\n"
            f"{base}/sitemap.xml\n"
            f"{base}/world   # no trailing slash: answered with a 301\n"
            f"{base}/world/no-such-story/   # gone: answered with a 404\n",
            encoding="utf-8",
        )
        result = scrapy(
            "crawl", "news", "-a", f"seeds={seed_file}",
            "-s", f"ARCHIVE_URI={tmp / 'archive'}", "-s", "ARCHIVE_RUN_ID=test-run",
            "-s", "DEPTH_LIMIT=3", *FAST,
        )  # fmt: skip
        requests = list(server.requests)
    assert result.returncode == 0, result.stderr[-3000:]
    return Crawl(server, result, tmp / "archive" / "news" / "test-run", seed_file, requests)


def article_paths() -> set[str]:
    return {p["path"] for p in demo_pages() if p["kind"] == "article"}


def test_every_article_stored_once_and_no_index_page(crawl: Crawl) -> None:
    paths = [urlsplit(r["url"]).path for r in crawl.records]
    assert len(paths) == len(set(paths)), "an article was stored twice"
    index_paths = {p["path"] for p in demo_pages() if p["kind"] != "article"}
    assert not set(paths) & index_paths
    assert set(paths) == article_paths()
    assert len(paths) >= 13


def test_records_have_the_contract_fields(crawl: Crawl) -> None:
    pages = {p["path"]: p for p in demo_pages()}
    for record in crawl.records:
        for field in (
            "id",
            "url",
            "canonical_url",
            "title",
            "author",
            "date",
            "sitename",
            "language",
            "text",
            "fetched_at",
            "warc_filename",
            "warc_record_id",
        ):
            assert field in record, field
        page = pages[urlsplit(record["url"]).path]
        assert record["id"] and record["fetched_at"].endswith("Z")
        assert page["title"] in record["title"]
        for snippet in page["must_contain"]:
            assert snippet in " ".join(record["text"].split()), (record["url"], snippet)
    assert len({r["id"] for r in crawl.records}) == len(crawl.records)


def test_seed_page_text_has_paragraphs_and_no_chrome(crawl: Crawl) -> None:
    (record,) = [r for r in crawl.records if urlsplit(r["url"]).path == SEED_PAGE]
    text = record["text"]
    assert "initiated an “anti-terrorism” crusade in the disputed Nagorno-Karabakh region" in text
    assert "Unforeseen Escalation" in text and "Russian inactivity" in text
    assert "exercise restraint and seek political results" in " ".join(text.split())
    for chrome in SEED_CHROME:
        assert chrome not in text, chrome


def test_seed_page_has_no_teaser_line(crawl: Crawl) -> None:
    (record,) = [r for r in crawl.records if urlsplit(r["url"]).path == SEED_PAGE]
    assert "May You Like" not in record["text"]


def test_seed_page_date_is_the_articles_own(crawl: Crawl) -> None:
    (record,) = [r for r in crawl.records if urlsplit(r["url"]).path == SEED_PAGE]
    assert (record["date"] or "").startswith("2023-09-19")


def test_bad_seed_lines_reported_with_file_and_line(crawl: Crawl) -> None:
    log = crawl.result.stderr
    for line, why in [
        (4, "missing scheme"),
        (6, "unsupported scheme 'ftp'"),
        (7, "unsupported scheme 'file'"),
    ]:
        assert f"invalid seed skipped: {crawl.seed_file}:{line}: " in log
        assert why in log
    assert "'news/seeds/invalid': 3" in log and "'news/seeds/valid': 5" in log
    assert crawl.records  # and the crawl went on


def test_no_request_to_disallowed_or_offsite_paths(crawl: Crawl) -> None:
    fetched = {path for _method, path, _status in crawl.requests}
    assert not any(p.startswith("/search") for p in fetched)  # robots.txt Disallow


def test_every_fetch_is_archived_and_warcio_accepts_it(crawl: Crawl) -> None:
    warcs = crawl.warcs()
    assert warcs and not list(crawl.run_dir.rglob("*.open"))
    responses: dict[str, str] = {}
    requests_for: dict[str, str] = {}
    for warc in warcs:
        for tool in ("check", "index"):
            run = subprocess.run(
                [sys.executable, "-m", "warcio.cli", tool, str(warc)],
                capture_output=True,
                text=True,
            )
            assert run.returncode == 0, (tool, run.stdout, run.stderr)
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type in ("response", "revisit"):
                    responses[record.rec_headers["WARC-Record-ID"]] = uri
                elif record.rec_type == "request":
                    requests_for[record.rec_headers["WARC-Concurrent-To"]] = uri
    served = sorted(path for method, path, _status in crawl.requests if method == "GET")
    archived = sorted(
        urlsplit(uri)._replace(scheme="", netloc="").geturl() for uri in responses.values()
    )
    assert archived == served
    assert {"/robots.txt", "/feed.xml", "/sitemap.xml", "/world", "/world/no-such-story/"} <= set(
        archived
    )
    statuses = {status for _method, _path, status in crawl.requests}
    assert {200, 301, 404} <= statuses  # redirects and errors are archived like pages
    assert requests_for == responses  # a request record beside every response record


def test_text_records_point_at_their_response_records(crawl: Crawl) -> None:
    for record in crawl.records:
        warc = crawl.run_dir / "warc" / record["warc_filename"]
        with warc.open("rb") as handle:
            handle.seek(record["warc_offset"])
            capture = next(iter(ArchiveIterator(handle)))
            assert capture.rec_type == "response"
            assert capture.rec_headers["WARC-Record-ID"] == record["warc_record_id"]
            assert capture.rec_headers["WARC-Target-URI"] == record["url"]
            assert capture.http_headers.get_statuscode() == "200"


def test_no_seeds_is_a_clear_start_up_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("ftp://only.example.org/\n", encoding="utf-8")
    result = scrapy("crawl", "news", "-a", f"seeds={bad}", "-s", f"ARCHIVE_URI={tmp_path}")
    assert result.returncode == 2
    assert f"no valid seed URL ({bad}:1: unsupported scheme 'ftp'" in result.stderr
    assert not list(tmp_path.rglob("*.warc.gz"))


def demo_run(archive: Path, port: int) -> subprocess.CompletedProcess[str]:
    """`make crawl`'s command: the demo site served on `port`, crawled into `archive`."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.demo.run", "--archive", str(archive), "--port", str(port)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_second_demo_run_is_incremental_and_nothing_is_a_dead_link(tmp_path: Path) -> None:
    with DemoServer() as probe:  # a free port, let go of before the runs take it
        port = probe.port
    runs = [demo_run(tmp_path / "archive", port) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert f"demo site: http://127.0.0.1:{port}/" in run.stdout
        assert "Disabled crawler.frontier.jobdir" not in run.stderr  # no JOBDIR is the usual case
        assert not [line for line in run.stderr.splitlines() if "] WARNING: " in line]
    first, second = sorted((tmp_path / "archive" / "news").iterdir())
    assert len(text_records(first)) == len(article_paths())
    assert "(16 new or changed articles stored)" in runs[0].stdout
    assert len(text_records(second)) == 0
    assert "(0 new or changed articles stored)" in runs[1].stdout
    for run_dir in (first, second):
        statuses = summarize(run_dir)["statuses"]
        assert statuses and all(status < 400 for status in statuses), (run_dir.name, statuses)
    # the second run met the same URLs: conditional requests answered 304, or revisits
    records = summarize(second)["records"]
    assert summarize(second)["statuses"].get(304) or records.get("revisit")
    assert records.get("response", 0) < summarize(first)["records"]["response"] // 4


def test_demo_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with DemoServer() as taken:
        run = demo_run(tmp_path / "archive", taken.port)
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"demo: port {taken.port} on 127.0.0.1 is in use (another demo server?); "
        "choose another with --port N (make crawl DEMO_PORT=N)"
    )
    assert not (tmp_path / "archive").exists()
