"""Shared fixtures: the demo site on 127.0.0.1 and `scrapy` run as a person would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.server import DemoServer
from pipelines.text import read_text_records

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PAGES_JSON = PROJECT_ROOT / "crawler" / "demo" / "pages.json"
# The demo page built from ../shared/seed: a real scraped page with its chrome.
SEED_PAGE = "/latest/azerbaijans-military-operation-in-nagorno-karabakh/"
# The demo site is ours and on loopback: no politeness delay needed in tests, and loopback
# allowed past the SSRF guard (crawler/net/middlewares.py), which refuses non-public addresses.
ALLOW_LOOPBACK = "NEWS_ALLOWED_NETWORKS=127.0.0.0/8,::1/128"
# Extraction in the crawl's own thread: the worker pool's start costs a test crawl of a few
# pages more CPU than its pages do. The pool itself is crawled through by the tests that do not
# use FAST (test_hostile's GUARDED, test_encodings, test_caps, test_repair's SIGKILL test).
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", ALLOW_LOOPBACK,
        "-s", "NEWS_EXTRACT_PROCESSES=0"]  # fmt: skip


def demo_pages() -> list[dict[str, Any]]:
    return json.loads(PAGES_JSON.read_text(encoding="utf-8"))


def scrapy(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the `scrapy` CLI of this project in a subprocess, from the project root."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def text_records(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_text_records(run_dir / "text"))


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server
