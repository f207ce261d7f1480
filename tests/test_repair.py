"""Crash safety: files a SIGKILLed crawl left as `.open` are repaired by the next run."""

from __future__ import annotations

import fcntl
import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import DemoServer
from pipelines.repair import complete_members_length, repair_open_file
from tests.conftest import ALLOW_LOOPBACK, FAST, PROJECT_ROOT, demo_pages, scrapy, text_records


def test_complete_members_length_stops_at_a_torn_member(tmp_path: Path) -> None:
    members = [gzip.compress(f"record {i}\n".encode() * 500) for i in range(3)]
    path = tmp_path / "x.warc.gz.open"
    torn = gzip.compress(b"half a record" * 100)[:-9]
    path.write_bytes(b"".join(members) + torn)
    assert complete_members_length(path) == sum(len(m) for m in members)
    result = repair_open_file(path)
    assert result is not None and result.dropped_bytes == len(torn)
    assert not path.exists()
    expected = b"".join(gzip.decompress(m) for m in members)
    assert gzip.decompress(result.path.read_bytes()) == expected


def test_a_file_held_by_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "live.warc.gz.open"
    path.write_bytes(gzip.compress(b"x"))
    with path.open("ab") as live:
        fcntl.flock(live, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert repair_open_file(path) is None
    assert path.exists()


def test_sigkilled_crawl_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with DemoServer() as server:
        crawl = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={server.base_url}/",
             "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=killed",
             "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.3",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", ALLOW_LOOPBACK],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        run_dir = archive / "news" / "killed"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shards = list(run_dir.glob("text/*.open"))
            if shards and len(text_records_open(shards[0])) >= 3:
                break
            time.sleep(0.1)
        sigkill(crawl)
        (warc_open,) = run_dir.glob("warc/*.warc.gz.open")
        (text_open,) = run_dir.glob("text/*.jsonl.gz.open")
        articles_before = len(text_records_open(text_open))
        with warc_open.open("ab") as handle:  # a record torn in the middle of a write
            handle.write(gzip.compress(b"WARC/1.1\r\n" + b"x" * 5000)[:700])

        rerun = scrapy(
            "crawl", "news", "-a", f"urls={server.base_url}/feed.xml",
            "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=next",
            *FAST,
        )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"repaired orphaned {warc_open}" in rerun.stderr
    assert "'archive/repaired_files': 2" in rerun.stderr
    assert not list(archive.rglob("*.open"))
    (warc,) = run_dir.glob("warc/*.warc.gz")
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(warc)],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    with warc.open("rb") as handle:
        types = [r.rec_type for r in ArchiveIterator(handle)]
    assert types[0] == "warcinfo" and types.count("response") >= 3
    assert len(text_records(run_dir)) == articles_before >= 3  # nothing fetched is lost


def text_records_open(path: Path) -> list[bytes]:
    """Complete records in a shard still being written (one gzip member per line)."""
    length = complete_members_length(path)
    return gzip.decompress(path.read_bytes()[:length]).splitlines() if length else []


def sigkill(crawl: subprocess.Popen[bytes]) -> None:
    """Kill a crawl with SIGKILL; its extraction workers must not outlive it."""
    workers = pool_workers(crawl.pid)
    os.kill(crawl.pid, signal.SIGKILL)
    crawl.wait()
    assert workers, "the crawl had no extraction workers to check"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    orphans = [w for w in workers if Path(f"/proc/{w}").exists()]
    assert not orphans, f"extraction workers outlived the killed crawl: {orphans}"


def pool_workers(pid: int) -> list[int]:
    """The extraction pool's worker processes of a running crawl."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("jobdir", [False, True], ids=["seen-store", "jobdir"])
def test_killed_and_rerun_crawl_loses_and_duplicates_no_article(
    tmp_path: Path, jobdir: bool
) -> None:
    """Killed at the worst moment, rerun: with the seen-store alone, and with Scrapy's JOBDIR
    (whose queue and request fingerprints SIGKILL leaves half-written)."""
    archive = tmp_path / "archive"
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"] if jobdir else []
    with DemoServer() as server:
        crawl = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={server.base_url}/",
             "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=killed",
             "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", ALLOW_LOOPBACK, *job],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        killed_dir = archive / "news" / "killed"
        while time.monotonic() < deadline:
            shards = list(killed_dir.glob("text/*.open"))
            if shards and len(text_records_open(shards[0])) >= 4:
                break
            time.sleep(0.05)
        sigkill(crawl)
        frontier = archive / ".state" / "news-frontier"  # the scheduler's on-disk queue
        assert frontier.is_dir() != jobdir, "without JOBDIR the queue is on disk in .state/"
        # the worst moment to die: records written, but none of them marked seen yet
        with sqlite3.connect(archive / ".state" / "news-seen.sqlite") as seen:
            seen.execute("DELETE FROM articles")
        rerun = scrapy(
            "crawl", "news", "-a", f"urls={server.base_url}/",
            "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=rerun", *FAST, *job,
        )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'scheduler/enqueued/disk':" in rerun.stderr
    assert not frontier.exists(), "the killed run's queue was left behind (or replayed)"
    if jobdir:
        assert "did not shut down cleanly" in rerun.stderr
    first = [r["url"] for r in text_records(killed_dir)]
    second = [r["url"] for r in text_records(archive / "news" / "rerun")]
    assert len(first) >= 4 and len(set(first)) == len(first)
    assert len(set(second)) == len(second)
    assert not set(first) & set(second), "an article stored before the kill was stored again"
    articles = {server.base_url + p["path"] for p in demo_pages() if p["kind"] == "article"}
    assert set(first) | set(second) == articles  # nothing lost


def test_a_cleanly_stopped_jobdir_crawl_resumes_its_queue(tmp_path: Path) -> None:
    """The guard leaves Scrapy's own resume alone when the run stopped cleanly."""
    archive, job = tmp_path / "archive", ["-s", f"JOBDIR={tmp_path / 'job'}"]
    with DemoServer() as server:
        common = ("-s", f"ARCHIVE_URI={archive}", *FAST, *job)
        first = scrapy("crawl", "news", "-a", f"urls={server.base_url}/", *common,
                       "-s", "ARCHIVE_RUN_ID=first", "-s", "CLOSESPIDER_ITEMCOUNT=4",
                       "-s", "CONCURRENT_REQUESTS=1")  # fmt: skip
        assert first.returncode == 0, first.stderr[-2000:]
        assert list((tmp_path / "job" / "requests.queue").iterdir())  # requests left to do
        second = scrapy("crawl", "news", "-a", f"urls={server.base_url}/", *common,
                        "-s", "ARCHIVE_RUN_ID=second")  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]
    assert "did not shut down cleanly" not in second.stderr
    assert "Resuming crawl" in second.stderr  # Scrapy's own JOBDIR resume
    before = [r["url"] for r in text_records(archive / "news" / "first")]
    after = [r["url"] for r in text_records(archive / "news" / "second")]
    assert len(before) >= 4 and not set(before) & set(after)
    articles = {server.base_url + p["path"] for p in demo_pages() if p["kind"] == "article"}
    assert sorted(before + after) == sorted(articles)
