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
