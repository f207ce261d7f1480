"""Crash safety: files a SIGKILLed crawl left as `.open` are repaired by the next run."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
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
from pipelines.finish import finish_killed_run
from pipelines.index import cdxj_entries
from pipelines.rotating import complete_members_length, repair_open_file
from pipelines.run import file_sha256
from pipelines.storage import FSArchiveStore
from tests.conftest import ALLOW_LOOPBACK, FAST, PROJECT_ROOT, demo_pages, scrapy, text_records
from tests.test_s3 import BUCKET, moto, objects  # noqa: F401 (moto: a fixture)


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


def sigkill(crawl: subprocess.Popen[bytes], pool: bool = True) -> None:
    """Kill a crawl with SIGKILL; its extraction workers (unless it extracts in its own thread,
    `pool` False) must not outlive it."""
    workers = pool_workers(crawl.pid)
    os.kill(crawl.pid, signal.SIGKILL)
    crawl.wait()
    if not pool:
        return
    assert len(workers) >= 2, "the crawl had no extraction workers to check"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    orphans = [w for w in workers if Path(f"/proc/{w}").exists()]
    assert not orphans, f"extraction workers outlived the killed crawl: {orphans}"


def pool_workers(pid: int) -> list[int]:
    """The extraction pool's processes of a running crawl: its fork server (a child of the
    crawl) and the workers forked from it."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError):
            continue
    servers = [p for p, parent in parents.items() if parent == pid and is_fork_server(p)]
    return servers + [p for p, parent in parents.items() if parent in servers]


def is_fork_server(pid: int) -> bool:
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


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


def crawl_and_kill(server: DemoServer, run_dir: Path, articles: int, *settings: str) -> Path:
    """Crawl the demo site slowly into `settings`' archive, SIGKILL the crawl once `articles`
    articles are written in `run_dir` (local: in the archive, S3: in the spool)."""
    crawl = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={server.base_url}/",
         "-s", f"ARCHIVE_RUN_ID={run_dir.name}",
         "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2",
         "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", ALLOW_LOOPBACK,
         *[arg for s in settings for arg in ("-s", s)]],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shards = list(run_dir.glob("text/*.open"))
        if shards and len(text_records_open(shards[0])) >= articles:
            break
        time.sleep(0.05)
    sigkill(crawl)
    assert list(run_dir.glob("warc/*.open")), "the crawl ended before it was killed"
    return run_dir


def warc_captures(run_dir: Path) -> list[tuple[str, int, object]]:
    """(file name, offset, record) of every response and revisit record of a run."""
    found = []
    for warc in sorted(run_dir.glob("warc/*.warc.gz")):
        with warc.open("rb") as handle:
            records = ArchiveIterator(handle)
            for record in records:
                if record.rec_type in ("response", "revisit"):
                    found.append((warc.name, records.get_record_offset(), record))
    return found


def test_a_killed_run_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """Index and manifest for the killed run: the next run deduplicates against it, and
    `scrapy corpus ls / export` see it and its articles."""
    archive = tmp_path / "archive"
    with DemoServer() as server:
        killed_dir = crawl_and_kill(
            server, archive / "news" / "killed", 4, f"ARCHIVE_URI={archive}"
        )
        rerun = scrapy(
            "crawl", "news", "-a", f"urls={server.base_url}/",
            "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=next", *FAST,
        )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'archive/finished_killed_runs': 1" in rerun.stderr
    articles = text_records(killed_dir)
    assert len(articles) >= 4

    # 1. the index: one line per response/revisit record (metadata records have no status)
    captures = warc_captures(killed_dir)
    indexed = [
        (fields["filename"], int(fields["offset"]))
        for _key, _ts, fields in cdxj_entries(killed_dir / "indexes" / "index.cdxj")
        if "status" in fields
    ]
    assert sorted(indexed) == sorted((name, offset) for name, offset, _ in captures)
    assert len(captures) >= 4

    # ... and the manifest: killed, every file with its size and sha256, counts from the files
    manifest = json.loads((killed_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is False and manifest["killed"] is True
    assert manifest["finish_reason"] == "killed" and manifest["stats_source"]
    on_disk = {
        p.relative_to(archive).as_posix(): p
        for p in killed_dir.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert {f["key"] for f in manifest["files"]} == set(on_disk)
    for entry in manifest["files"]:
        path = on_disk[entry["key"]]
        assert (entry["size"], entry["sha256"]) == (path.stat().st_size, file_sha256(path))
    assert manifest["stats"]["text_records"] == manifest["stats"]["articles"] == len(articles)
    shard_counts = [f["records"] for f in manifest["files"] if "/text/" in f["key"]]
    assert sum(shard_counts) == len(articles)
    warc_records = manifest["stats"]["warc_records"]
    assert warc_records["response"] + warc_records.get("revisit", 0) == len(captures)
    assert manifest["started_at"] <= manifest["finished_at"]
    assert manifest["software"]["newsarchiver"]
    assert sum(manifest["content"]["domains"].values()) == len(articles)

    # 2. `corpus ls` lists it, with its articles
    listing = scrapy("corpus", "ls", str(archive))
    assert listing.returncode == 0, listing.stderr[-2000:]
    (line,) = [row for row in listing.stdout.splitlines() if row.startswith("killed ")]
    assert line.split().count("killed") == 2 and str(len(articles)) in line.split()

    # 3. `corpus export` contains its articles
    out = tmp_path / "export"
    export = scrapy("corpus", "export", str(archive), "--format", "jsonl", "--out", str(out),
                    "--keep-duplicates")  # fmt: skip
    assert export.returncode == 0, export.stderr[-2000:]
    assert "skipped" not in export.stderr
    with gzip.open(out / "data" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        exported = {json.loads(line)["id"] for line in handle}
    assert {r["id"] for r in articles} <= exported
    assert {r["id"] for r in text_records(archive / "news" / "next")} <= exported

    # 4. the next run wrote what the killed run had archived as revisits of its records
    archived = {
        record.rec_headers.get_header("WARC-Payload-Digest"): record
        for _name, _offset, record in captures
        if record.rec_type == "response" and record.http_headers.get_statuscode() == "200"
    }
    killed_ids = {r.rec_headers.get_header("WARC-Record-ID") for r in archived.values()}
    again = [
        record
        for _name, _offset, record in warc_captures(archive / "news" / "next")
        if record.rec_headers.get_header("WARC-Payload-Digest") in archived
    ]
    assert again, "the next run fetched nothing the killed run had archived"
    assert all(r.rec_type == "revisit" for r in again), [r.rec_type for r in again]
    assert {r.rec_headers.get_header("WARC-Refers-To") for r in again} <= killed_ids


def test_a_run_with_a_file_still_held_is_not_finished(tmp_path: Path) -> None:
    """A live process's run (an flock on its `.open` file) gets no index and no manifest."""
    run_dir = tmp_path / "news" / "live"
    (run_dir / "text").mkdir(parents=True)
    (run_dir / "text" / "closed.jsonl.gz").write_bytes(gzip.compress(b'{"url": "http://x/"}\n'))
    held = run_dir / "warc" / "news-1.warc.gz.open"
    held.parent.mkdir()
    held.write_bytes(gzip.compress(b"x"))
    with held.open("ab") as live:
        fcntl.flock(live, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert finish_killed_run(FSArchiveStore(str(tmp_path)), "news", "live") is None
    assert not (run_dir / "manifest.json").exists()
    assert not (run_dir / "indexes").exists()


@pytest.mark.usefixtures("moto")
def test_a_killed_s3_run_is_finished_in_the_spool_and_pushed(tmp_path: Path) -> None:
    """S3: the killed run's files are still in the spool (none had closed), so its index and
    manifest are written there and pushed with them, the manifest last."""
    uri, spool = f"s3://{BUCKET}/crawls", tmp_path / "spool"
    spooled_run = spool / BUCKET / "crawls" / "news" / "killed"
    with DemoServer() as server:
        crawl_and_kill(server, spooled_run, 3, f"ARCHIVE_URI={uri}", f"ARCHIVE_SPOOL={spool}")
        assert not objects("crawls/news/killed/"), "a file of the killed run reached S3"
        rerun = scrapy(
            "crawl", "news", "-a", f"urls={server.base_url}/feed.xml", "-s", f"ARCHIVE_URI={uri}",
            "-s", f"ARCHIVE_SPOOL={spool}", "-s", "ARCHIVE_RUN_ID=next", *FAST,
        )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'archive/finished_killed_runs': 1" in rerun.stderr
    stored = objects("crawls/news/killed/")
    manifest = json.loads(stored.pop("manifest.json"))
    assert manifest["killed"] is True and manifest["complete"] is False
    assert manifest["archive_uri"] == uri
    assert {f["key"].removeprefix("news/killed/"): f["sha256"] for f in manifest["files"]} == {
        name: hashlib.sha256(body).hexdigest() for name, body in stored.items()
    }
    assert "indexes/index.cdxj" in stored and manifest["stats"]["articles"] >= 3
    assert not [p for p in spooled_run.rglob("*") if p.is_file()], "left in the spool"
    listing = scrapy("corpus", "ls", uri)
    assert listing.returncode == 0, listing.stderr[-2000:]
    (line,) = [row for row in listing.stdout.splitlines() if row.startswith("killed ")]
    assert line.split().count("killed") == 2  # the run id and its state
