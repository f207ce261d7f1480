"""A crawl stopped by SIGTERM (`systemctl stop`, Scrapyd's cancel) or SIGINT (Ctrl-C) mid-run
(#21): exit status 6, one line on stderr, a manifest that says `"complete": false` and why,
`scrapy corpus ls` not calling it complete; and the next run continues: it fetches the pages
the first did not store, not those it stored, so every article is stored exactly once.

Before: the run exited 0 and its manifest read `complete` with 131 of 400 pages fetched.
Everything goes through the real `scrapy crawl news` CLI against a slow site on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import FAST, PROJECT_ROOT, scrapy, text_records
from tests.test_hostile import HostileSite, Page, _Handler, article, html

ARTICLES = 80
PAGE_DELAY = 0.05  # seconds per response: a crawl of ~3 s, interrupted after a fraction
STOP_AFTER = 15  # article requests seen by the site before the signal is sent
FAILED = re.compile(r"^scrapy crawl: failed \(exit (\d)\): (.+)$", re.M)


class _SlowHandler(_Handler):
    def do_GET(self) -> None:
        time.sleep(PAGE_DELAY)
        super().do_GET()


def story(i: int) -> str:
    return f"/news/story-{i:03d}/"


@pytest.fixture
def many_pages() -> Iterator[HostileSite]:
    """A home page linking to ARTICLES distinct articles, each served after PAGE_DELAY."""
    with HostileSite() as site:
        site.httpd.RequestHandlerClass = _SlowHandler
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        links = "".join(f"<li><a href='{story(i)}'>Story {i}</a></li>" for i in range(ARTICLES))
        site.pages["/"] = html(f"<html><head><title>Harbour Post</title></head><body><ul>{links}"
                               "</ul></body></html>")  # fmt: skip
        for i in range(ARTICLES):
            site.pages[story(i)] = html(article(f"Harbour story number {i} of the season"))
        yield site


def crawl_args(site: HostileSite, archive: Path, run_id: str) -> list[str]:
    return [
        "crawl", "news", "-a", f"urls={site.base}/", "-s", f"ARCHIVE_URI={archive}",
        "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST, "-s", "NEWS_EXTRACT_PROCESSES=0",
    ]  # fmt: skip


def articles_requested(site: HostileSite, since: int = 0) -> list[str]:
    with site.lock:
        return [p for p in site.requests[since:] if p.startswith("/news/story-")]


def interrupted_crawl(
    site: HostileSite, archive: Path, signum: int, log: Path, twice: bool = False
) -> int:
    """Start the crawl, send `signum` once STOP_AFTER articles were requested (`twice`: and
    again at once, which forces the stop); its exit status."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapy", *crawl_args(site, archive, "first")],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while len(articles_requested(site)) < STOP_AFTER:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "the crawl never reached the articles"
                time.sleep(0.02)
            process.send_signal(signum)
            if twice:
                time.sleep(0.05)  # Scrapy's own handler must have run: it arms the second one
                process.send_signal(signum)
            return process.wait(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_says_so_and_the_next_run_continues(
    many_pages: HostileSite, tmp_path: Path, signum: signal.Signals
) -> None:
    site, archive, log = many_pages, tmp_path / "archive", tmp_path / "first.log"
    status = interrupted_crawl(site, archive, signum, log)
    stderr = log.read_text()

    assert status == 6, stderr[-3000:]
    (failed,) = FAILED.findall(stderr)
    assert failed[0] == "6"
    assert re.match(rf"interrupted: {signum.name} received after \d+ pages; ", failed[1]), failed
    assert stderr.rstrip("\n").endswith(failed[1])  # the last line, the one cron mails
    manifest = json.loads((archive / "news" / "first" / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert manifest["finish_reason"] == "shutdown"
    assert manifest["outcome"] == {"exit_code": 6, "status": "interrupted", "why": failed[1]}
    first = Counter(urlsplit(r["url"]).path for r in text_records(archive / "news" / "first"))
    assert 0 < len(first) < ARTICLES, "the signal came mid-run"
    listed = scrapy("corpus", "ls", str(archive), "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    (run,) = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    assert run["run_id"] == "first" and run["state"] != "complete"

    before = len(site.requests)
    again = scrapy(*crawl_args(site, archive, "second"), timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    second_manifest = json.loads((archive / "news" / "second" / "manifest.json").read_text())
    assert second_manifest["complete"] is True
    second = Counter(urlsplit(r["url"]).path for r in text_records(archive / "news" / "second"))
    # the second run fetched what the first did not store, and none of what it stored
    assert not set(articles_requested(site, before)) & set(first)
    assert first + second == Counter({story(i): 1 for i in range(ARTICLES)})


def test_a_second_signal_forces_the_stop_and_still_exits_6(
    many_pages: HostileSite, tmp_path: Path
) -> None:
    """Scrapy stops at once on a second signal, before the manifest is written: the status
    and the last line still say interrupted, and the next run repairs the run as killed."""
    site, archive, log = many_pages, tmp_path / "archive", tmp_path / "first.log"
    status = interrupted_crawl(site, archive, signal.SIGTERM, log, twice=True)
    stderr = log.read_text()
    assert status == 6, stderr[-3000:]
    (failed,) = FAILED.findall(stderr)
    assert failed[1].startswith("interrupted: SIGTERM received after "), failed
    # (on a loaded machine the graceful stop may win the race and write its manifest first)
    forced = "forced to stop by a second signal" in failed[1]
    again = scrapy(*crawl_args(site, archive, "second"), timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    first = json.loads((archive / "news" / "first" / "manifest.json").read_text())
    assert first["complete"] is False
    if forced:  # finished by the second run's crash repair
        assert first["killed"] is True
    else:
        assert first["outcome"]["status"] == "interrupted"
