"""S3 archives against moto's standalone server over real HTTP on 127.0.0.1 (#5)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from scrapy.settings import Settings

from crawler.demo.server import DemoServer
from pipelines.storage.s3 import S3ArchiveStore
from tests.conftest import ALLOW_LOOPBACK, FAST, PROJECT_ROOT

BUCKET = "news-archive"  # moto rejects some names real S3 takes (e.g. one letter)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moto:
    """A ThreadedMotoServer that can be stopped and started again on the same port; its
    state lives in this process, so objects survive the outage like on a real S3."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    server = Moto()
    server.start()
    # moto keeps its buckets in this process across servers: each test starts with none
    reset = urllib.request.Request(f"{server.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client().create_bucket(Bucket=BUCKET)
    try:
        yield server
    finally:
        server.stop()


def client() -> Any:
    return boto3.client("s3")


def objects(prefix: str) -> dict[str, bytes]:
    s3 = client()
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(prefix)] = body
    return found


def crawl(base_url: str, *settings: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={base_url}/",
         *[arg for s in settings for arg in ("-s", s)]],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy(),
    )  # fmt: skip


def finished(process: subprocess.Popen[str], timeout: float = 240, status: int = 0) -> str:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == status, stderr[-3000:]
    return stderr


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_crawl_to_s3_stores_what_a_local_crawl_stores(moto: Moto, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with DemoServer() as site:
        s3_log = finished(crawl(site.base_url, f"ARCHIVE_URI=s3://{BUCKET}/crawls",
                                f"ARCHIVE_SPOOL={spool}", "ARCHIVE_RUN_ID=run-s3", *FAST[1::2]))
        finished(crawl(site.base_url, f"ARCHIVE_URI={tmp_path / 'local'}",
                       "ARCHIVE_RUN_ID=run-local", *FAST[1::2]))  # fmt: skip
    stored = objects("crawls/news/run-s3/")
    manifest = json.loads(stored["manifest.json"])
    assert manifest["complete"] is True
    listed = {f["key"].removeprefix("news/run-s3/"): f for f in manifest["files"]}
    assert set(stored) - {"manifest.json"} == set(listed)
    assert {name: sha256(body) for name, body in stored.items() if name in listed} == {
        name: entry["sha256"] for name, entry in listed.items()
    }
    local_dir = tmp_path / "local" / "news" / "run-local"
    local_manifest = json.loads((local_dir / "manifest.json").read_text())
    local_files = {p.relative_to(local_dir).as_posix() for p in local_dir.rglob("*") if p.is_file()}
    assert {f["key"].removeprefix("news/run-local/") for f in local_manifest["files"]} == (
        local_files - {"manifest.json"}
    )
    for entry in local_manifest["files"]:
        local_file = local_dir / entry["key"].removeprefix("news/run-local/")
        assert sha256(local_file.read_bytes()) == entry["sha256"]

    def shape(names: set[str]) -> list[str]:
        return sorted(name.split("/")[0] if "/" in name else "." for name in names)

    assert shape(set(listed)) == shape(local_files - {"manifest.json"})
    assert manifest["stats"]["articles"] == local_manifest["stats"]["articles"] >= 13
    left = [p for p in spool.rglob("*") if p.is_file() and ".state" not in p.parts]
    assert not left, "uploaded files stay in the spool"  # .state/: seen-store and lock
    assert "uploaded " in s3_log and manifest["upload"]["bytes"] > 0


def test_multipart_upload_of_a_large_file_is_verified(moto: Moto, tmp_path: Path) -> None:
    settings = Settings(
        {"ARCHIVE_SPOOL": str(tmp_path), "S3_MULTIPART_THRESHOLD": 5 * 1024**2,
         "S3_MULTIPART_CHUNKSIZE": 5 * 1024**2}
    )  # fmt: skip
    store = S3ArchiveStore(f"s3://{BUCKET}/big", settings)
    key = "news/run-1/warc/big.warc.gz"
    path = store.local_path(key)
    data = os.urandom(12 * 1024**2 + 123)
    path.write_bytes(data)
    started = time.monotonic()
    store.persist(key, path)
    assert store.drain() == []
    seconds = time.monotonic() - started
    head = client().head_object(Bucket=BUCKET, Key=f"big/{key}")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert sha256(objects("big/")[key]) == sha256(data)
    assert not path.exists()
    print(f"multipart upload: {len(data) / seconds / 1024**2:.1f} MiB/s to moto on loopback")


def test_failed_upload_keeps_the_file_and_push_uploads_it(moto: Moto, tmp_path: Path) -> None:
    settings = Settings({"ARCHIVE_SPOOL": str(tmp_path), "S3_UPLOAD_RETRIES": 1,
                         "S3_RETRY_BACKOFF": 0.1})  # fmt: skip
    store = S3ArchiveStore(f"s3://{BUCKET}/p", settings)
    key = "news/run-1/text/a.jsonl.gz"
    path = store.local_path(key)
    path.write_bytes(b"x" * 1000)
    moto.stop()
    store.persist(key, path)
    assert store.drain() == [key] and path.exists()
    moto.start()
    done, failed = store.push()
    assert (done, failed) == ([key], [])
    assert objects("p/")[key] == b"x" * 1000


def test_next_run_pushes_what_an_earlier_run_left(moto: Moto, tmp_path: Path) -> None:
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from pipelines.repair import OrphanRepairExtension

    class News(Spider):
        name = "news"

    settings = {"ARCHIVE_URI": f"s3://{BUCKET}/next", "ARCHIVE_SPOOL": str(tmp_path),
                "ARCHIVE_RUN_ID": "run-2"}  # fmt: skip
    crawler = get_crawler(News, settings)
    left = {"news/run-1/warc/a.warc.gz": b"w" * 100, "news/run-1/manifest.json": b"{}"}
    store = S3ArchiveStore(settings["ARCHIVE_URI"], Settings(settings))
    for key, data in left.items():
        store.local_path(key).write_bytes(data)
    OrphanRepairExtension.from_crawler(crawler).spider_opened()
    assert objects("next/") == left
    assert crawler.stats.get_value("archive/pushed_from_spool") == 2


def test_s3_outage_mid_crawl_loses_nothing(moto: Moto, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    uri = f"s3://{BUCKET}/crawls"
    common = [f"ARCHIVE_URI={uri}", f"ARCHIVE_SPOOL={spool}", "S3_UPLOAD_RETRIES=1",
              "S3_RETRY_BACKOFF=0.2"]  # fmt: skip
    with DemoServer() as site:
        process = crawl(site.base_url, *common, "ARCHIVE_RUN_ID=outage", "WARC_MAX_SIZE=20000",
                        "TEXT_SHARD_MAX_RECORDS=2", "AUTOTHROTTLE_ENABLED=False",
                        "DOWNLOAD_DELAY=0.15", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                        ALLOW_LOOPBACK)  # fmt: skip
        deadline = time.monotonic() + 60
        while not objects("crawls/news/outage/") and time.monotonic() < deadline:
            time.sleep(0.2)
        before = set(objects("crawls/news/outage/"))
        assert before, "nothing was uploaded before the outage"
        moto.stop()
        log = finished(process, status=5)  # 5: uploads left in the spool
    spooled = {p.relative_to(spool).as_posix() for p in spool.rglob("*")
               if p.is_file() and ".state" not in p.parts}  # fmt: skip
    manifest_path = next(p for p in spool.rglob("manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    assert manifest["complete"] is False
    # files closed and verified before the outage are in S3, the rest waits in the spool (an
    # upload that reached S3 just before the outage but could not be verified waits too)
    places = {f["stored"] for f in manifest["files"]}
    assert "spool" in places and places <= {"archive", "spool"}, places
    for entry in manifest["files"]:
        in_spool = (spool / BUCKET / "crawls" / entry["key"]).is_file()
        assert in_spool == (entry["stored"] == "spool"), entry
    assert "kept in the spool" in log and "run `scrapy corpus push`" in log
    assert "Traceback" not in log, log[-5000:]
    assert manifest["outcome"]["status"] == "spooled"
    moto.start()
    push = subprocess.run(
        [sys.executable, "-m", "scrapy", "corpus", "push", *[a for s in common for a in ("-s", s)]],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert push.returncode == 0, push.stdout + push.stderr
    stored = objects("crawls/news/outage/")
    for entry in manifest["files"]:
        name = entry["key"].removeprefix("news/outage/")
        assert sha256(stored[name]) == entry["sha256"], name
    assert "manifest.json" in stored
    pushed = json.loads(stored["manifest.json"])  # rewritten by the push: the run is whole now
    assert pushed["complete"] is True and pushed["pushed_at"]
    assert {f["stored"] for f in pushed["files"]} == {"archive"}
    assert pushed["outcome"]["status"] == "ok" and pushed["outcome"]["exit_code"] == 0
    assert [f["key"] for f in pushed["files"]] == [f["key"] for f in manifest["files"]]
    assert not [p for p in spool.rglob("*") if p.is_file() and ".state" not in p.parts]
    print(f"outage: {len(before)} file(s) uploaded before, {len(spooled)} spooled and pushed after")


def test_keys_never_leave_the_prefix(moto: Moto, tmp_path: Path) -> None:
    store = S3ArchiveStore(f"s3://{BUCKET}/safe", Settings({"ARCHIVE_SPOOL": str(tmp_path)}))
    for bad in ("../escape", "news/../../x", "/abs", "news/run/..", "a\\b/c"):
        with pytest.raises(ValueError):
            store.object_key(bad)
    with pytest.raises(ValueError):
        S3ArchiveStore(f"s3://{BUCKET}/../up", Settings({"ARCHIVE_SPOOL": str(tmp_path)}))


def test_hostile_spider_and_host_names_stay_inside_the_prefix(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrapy import Request, Spider
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from pipelines import warc

    class Evil(Spider):
        name = "../../etc"

    monkeypatch.setattr(warc.socket, "gethostname", lambda: "../../evil/host name")
    crawler = get_crawler(Evil, {"ARCHIVE_URI": f"s3://{BUCKET}/hostile",
                                 "ARCHIVE_SPOOL": str(tmp_path), "ARCHIVE_RUN_ID": "../run"})
    ext = warc.WarcCaptureExtension.from_crawler(crawler)
    request = Request("https://news.example.org/")
    ext.response_downloaded(HtmlResponse(request.url, body=b"<html></html>"), request, Evil())
    ext.spider_closed()
    assert ext.run.store.drain() == []
    keys = list(objects(""))  # the whole bucket (moto's state is per process: other tests too)
    assert not [k for k in keys if "etc" in k and not k.startswith("hostile/etc/run/")]
    keys = [k for k in keys if k.startswith("hostile/")]
    assert keys and all(k.startswith("hostile/etc/run/") for k in keys), keys
    assert all(".." not in k and " " not in k for k in keys)
