"""`scrapy extract`: one JSON line per input, in order, nothing archived."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from crawler.demo.server import DemoServer
from tests.conftest import ALLOW_LOOPBACK, PROJECT_ROOT, SEED_PAGE, demo_pages, scrapy


def test_extract_saved_file_url_and_missing_file(demo_server: DemoServer, tmp_path: Path) -> None:
    articles = [p for p in demo_pages() if p["kind"] == "article" and p["path"] != SEED_PAGE]
    index = next(p for p in demo_pages() if p["kind"] == "index")
    seed_url = demo_server.base_url + SEED_PAGE
    saved = tmp_path / "seed.html"
    with urllib.request.urlopen(seed_url) as response:
        saved.write_bytes(response.read())
    live_url = demo_server.base_url + articles[0]["path"]
    index_url = demo_server.base_url + index["path"]
    before = set(PROJECT_ROOT.rglob("*.warc.gz"))

    saved_result = scrapy("extract", str(saved), "--url", "https://gazette.example.org/story")
    result = scrapy(
        "extract",
        live_url,
        index_url,
        str(tmp_path / "missing.html"),
        "-s",
        "LOG_LEVEL=WARNING",
        "-s",
        ALLOW_LOOPBACK,
    )

    assert saved_result.returncode == 0, saved_result.stderr
    (from_file,) = [json.loads(line) for line in saved_result.stdout.splitlines()]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3, result.stdout + result.stderr
    live, index_record, missing = lines
    assert from_file["url"] == "https://gazette.example.org/story"
    assert from_file["not_article"] is None
    assert "Nagorno-Karabakh" in from_file["text"]
    assert "Please enter your comment" not in from_file["text"]
    assert live["url"] == live_url and live["not_article"] is None
    assert all(s in " ".join(live["text"].split()) for s in articles[0]["must_contain"])
    assert index_record["url"] == index_url and index_record["not_article"]
    assert "missing.html" in missing["error"]
    assert result.returncode == 1  # one input failed
    assert set(PROJECT_ROOT.rglob("*.warc.gz")) == before  # nothing archived


def test_extract_usage_errors(tmp_path: Path) -> None:
    result = scrapy("extract")
    assert result.returncode == 2
    assert "give at least one PATH or URL" in result.stderr
    two = scrapy("extract", "a.html", "b.html", "--url", "https://gazette.example.org/")
    assert two.returncode == 2 and "--url goes with exactly one PATH" in two.stderr


def test_extract_runs_the_settings_check_of_scrapy_crawl(tmp_path: Path) -> None:
    """The start-up check of `scrapy crawl`: a typo stops it with one line (exit 2); a size in
    words is read as bytes, as the crawl reads it. (Scrapy's INFO banner, logged before the
    command runs, is turned off: the project's LOG_LEVEL is INFO.)"""
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Nothing to see.</p></body></html>", encoding="utf-8")
    quiet = ("-s", "LOG_LEVEL=WARNING")
    typo = scrapy("extract", str(page), "-s", "ARCHIVE_URL=x", *quiet)
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.splitlines() == [
        "scrapy extract: error: unknown setting ARCHIVE_URL (did you mean ARCHIVE_URI?)"
    ]
    bad = scrapy("extract", str(page), "-s", "DOWNLOAD_MAXSIZE=lots", *quiet)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        "scrapy extract: error: setting DOWNLOAD_MAXSIZE='lots': not a size: use bytes, "
        "or e.g. 512MiB, 1GiB (binary) or 1GB (decimal)"
    ]
    sizes = ("-s", "DOWNLOAD_MAXSIZE=512MiB", "-s", "S3_RETRY_BACKOFF=2s")
    fine = scrapy("extract", str(page), *sizes, *quiet)
    assert fine.returncode == 0 and fine.stderr == "", fine.stderr
    assert json.loads(fine.stdout)["not_article"] == "too_short"  # extracted: too short a text
