"""The live progress line of `scrapy crawl`: on a real terminal (a pty) only, refreshed in place."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.demo.server import DemoServer
from tests.conftest import FAST, PROJECT_ROOT, text_records

PROGRESS = re.compile(
    r"\r\x1b\[K([\d,]+) pages · ([\d,]+) articles · ([\d,]+|\?) queued · (\d+\.\d) pages/s"
)


def crawl(server: DemoServer, archive: Path, seed: str, *args: str, tty: bool) -> str:
    """`scrapy crawl news` from a demo page, its stderr (and stdout) on a pty or a pipe.
    Extraction runs in the reactor thread: no worker pool to start, a quicker test."""
    command = [
        sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={server.base_url}{seed}",
        "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=run",
        "-s", "NEWS_EXTRACT_PROCESSES=0", *FAST, *args,
    ]  # fmt: skip
    if not tty:
        run = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, timeout=180)
        assert run.returncode == 0, run.stderr[-3000:]
        return (run.stdout + run.stderr).decode("utf-8")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the crawl exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        assert proc.wait(timeout=30) == 0, output[-3000:]
    return output.decode("utf-8")


def test_progress_line_updates_in_place_on_a_terminal(tmp_path: Path) -> None:
    with DemoServer() as server:
        # a small delay stretches the crawl over several redraws
        output = crawl(server, tmp_path, "/", "-s", "DOWNLOAD_DELAY=0.05", tty=True)
    lines = PROGRESS.findall(output)
    assert len(lines) >= 3, output[-3000:]
    pages = [int(p.replace(",", "")) for p, _, _, _ in lines]
    assert pages == sorted(pages) and len(set(lines)) >= 2  # it moves, and never backwards
    assert any(queued not in ("0", "?") for _, _, queued, _ in lines)  # the frontier is shown
    assert any(float(rate) > 0 for _, _, _, rate in lines)
    # the last line, drawn at close, holds the run's totals and stays on screen (a newline)
    last_pages, last_articles, _, _ = lines[-1]
    received = re.search(r"'response_received_count': (\d+)", output)
    assert received and int(last_pages.replace(",", "")) == int(received.group(1))
    assert int(last_articles) == len(text_records(tmp_path / "news" / "run")) > 0
    assert re.search(PROGRESS.pattern + r"\r?\n", output)
    # a log message never lands after the line: the line is wiped first
    assert not re.search(r"pages/s\d{4}-\d\d-\d\d ", output)


@pytest.mark.parametrize(
    ("tty", "setting", "shown"),
    [(False, None, False), (True, "False", False), (False, "True", True)],
    ids=["pipe-auto", "terminal-off", "pipe-forced-on"],
)
def test_progress_line_only_where_asked(
    tmp_path: Path, tty: bool, setting: str | None, shown: bool
) -> None:
    args = ["-s", "DEPTH_LIMIT=1"]
    if setting is not None:
        args += ["-s", f"NEWS_PROGRESS={setting}"]
    with DemoServer() as server:
        output = crawl(server, tmp_path, "/about/", *args, tty=tty)
    assert "Spider closed (finished)" in output  # the crawl ran
    assert bool(PROGRESS.search(output)) is shown
    assert ("\x1b[K" in output) is shown  # no terminal control codes in cron logs
