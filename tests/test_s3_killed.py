"""A crawl to S3 killed after some of its files were uploaded (#21): the next run (or `scrapy
corpus push`) fetches them back into the spool, finishes the run there (index, `"killed": true`
manifest) and pushes the rest, so `corpus ls` / `export` read every article the killed run
stored; none is stored twice by the rerun. And two `corpus push` at once: the loser counts what
is really left in the spool (#21).

Real `scrapy crawl news` and `scrapy corpus` subprocesses, SIGKILL, a 120-page site and moto's
standalone S3 server, all on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.storage.s3 import mark_pushed
from tests.conftest import FAST, PROJECT_ROOT, scrapy
from tests.test_disk_full import SMALL_SITE_ARTICLES as ARTICLES
from tests.test_disk_full import small_news_site  # noqa: F401 (a fixture)
from tests.test_hostile import HostileSite
from tests.test_repair import sigkill, text_records_open
from tests.test_s3 import BUCKET, Moto, crawl, moto, objects  # noqa: F401 (moto: a fixture)

URI = f"s3://{BUCKET}/x"
# small files, so that several are closed and uploaded before the kill
SMALL_FILES = ["WARC_MAX_SIZE=100000", "TEXT_SHARD_MAX_RECORDS=40"]


def settings(spool: Path, run_id: str) -> list[str]:
    return [f"ARCHIVE_URI={URI}", f"ARCHIVE_SPOOL={spool}", f"ARCHIVE_RUN_ID={run_id}",
            *SMALL_FILES, *FAST[1::2]]  # fmt: skip


def crawl_until_uploaded(site: HostileSite, spool: Path) -> subprocess.Popen[str]:
    """The crawl, once a text shard of it is in S3 and the next one is being written."""
    process = crawl(site.base, *settings(spool, "killed"), "DOWNLOAD_DELAY=0.02")
    run_dir = spool / BUCKET / "x" / "news" / "killed"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        shards = list(run_dir.glob("text/*.open"))
        if objects("x/news/killed/text/") and shards and text_records_open(shards[0]):
            return process
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no text shard uploaded while the crawl ran: {process.communicate()[1][-3000:]}")


def crawl_once(site: HostileSite, spool: Path, run_id: str) -> subprocess.CompletedProcess[str]:
    options = [arg for s in settings(spool, run_id) for arg in ("-s", s)]
    return scrapy("crawl", "news", "-a", f"urls={site.base}/", *options, timeout=300)


def kill(process: subprocess.Popen[str]) -> None:
    sigkill(process, pool=False)  # type: ignore[arg-type]  # FAST: no worker pool
    process.communicate()


def corpus_ls() -> dict[str, dict[str, Any]]:
    listing = scrapy("corpus", "ls", URI, "--json")
    assert listing.returncode == 0, listing.stderr[-3000:]
    return {run["run_id"]: run for run in map(json.loads, listing.stdout.splitlines())}


def exported(tmp_path: Path) -> list[dict[str, Any]]:
    """Every text record `corpus export` reads (duplicates kept: they are what is counted)."""
    out = tmp_path / "dataset"
    result = scrapy("corpus", "export", URI, "--out", str(out), "--format", "jsonl",
                    "--keep-duplicates", "--cache", str(tmp_path / "cache"))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    paths = sorted((out / "data").rglob("*.jsonl*"))
    assert paths, list(out.rglob("*"))
    records = []
    for path in paths:
        data = path.read_bytes()
        lines = (gzip.decompress(data) if path.suffix == ".gz" else data).decode().splitlines()
        records += [json.loads(line) for line in lines if line.strip()]
    return records


def check_killed_run_in_s3(spool: Path) -> dict[str, Any]:
    """The killed run is whole in S3: a `killed` manifest listing every object with its
    sha256; nothing of it is left in the spool (no `manifest.json.tmp` either)."""
    stored = objects("x/news/killed/")
    manifest = json.loads(stored.pop("manifest.json"))
    assert manifest["killed"] is True and manifest["complete"] is False
    assert {f["key"].removeprefix("news/killed/"): f["sha256"] for f in manifest["files"]} == {
        name: hashlib.sha256(body).hexdigest() for name, body in stored.items()
    }
    assert "indexes/index.cdxj" in stored
    left = [p for p in (spool / BUCKET / "x" / "news" / "killed").rglob("*") if p.is_file()]
    assert not left, left
    return manifest


def check_every_article_once(tmp_path: Path, site: HostileSite, manifest: dict[str, Any]) -> None:
    """Every article of the site is read by `corpus export` exactly once, across both runs;
    `corpus ls` counts the killed run's articles."""
    records = exported(tmp_path)
    urls = [r["url"] for r in records]
    duplicates = sorted({u for u in urls if urls.count(u) > 1})
    assert not duplicates, duplicates
    articles = {f"{site.base}/news/good-story/"} | {
        f"{site.base}/news/story-{n}/" for n in range(1, ARTICLES)
    }
    assert set(urls) == articles, sorted(articles - set(urls))[:10]
    runs = corpus_ls()
    assert runs["killed"]["state"] == "killed"
    assert runs["killed"]["articles"] == manifest["stats"]["articles"] >= 40  # a shard or more


@pytest.mark.usefixtures("moto")
def test_killed_s3_run_with_uploaded_files_is_finished_by_the_next_run(
    tmp_path: Path, small_news_site: HostileSite  # noqa: F811
) -> None:
    spool = tmp_path / "spool"
    kill(crawl_until_uploaded(small_news_site, spool))
    uploaded = set(objects("x/news/killed/"))
    assert any(k.startswith("text/") for k in uploaded), uploaded

    rerun = crawl_once(small_news_site, spool, "next")
    log = rerun.stderr
    assert rerun.returncode == 0, log[-3000:]
    assert "left without index and manifest" not in log, log[-3000:]
    assert "'archive/finished_killed_runs': 1" in log, log[-3000:]
    manifest = check_killed_run_in_s3(spool)
    assert uploaded <= {f["key"].removeprefix("news/killed/") for f in manifest["files"]}
    check_every_article_once(tmp_path, small_news_site, manifest)


@pytest.mark.usefixtures("moto")
def test_corpus_push_finishes_a_killed_s3_run(
    tmp_path: Path, small_news_site: HostileSite  # noqa: F811
) -> None:
    """No crawl in between: `corpus push` repairs, finishes and uploads the killed run, and
    marks its articles seen, so a later crawl does not store them again."""
    spool = tmp_path / "spool"
    kill(crawl_until_uploaded(small_news_site, spool))
    push = scrapy("corpus", "push", "-s", f"ARCHIVE_URI={URI}", "-s", f"ARCHIVE_SPOOL={spool}")
    assert push.returncode == 0, push.stdout + push.stderr[-3000:]
    assert "finished killed run news/killed" in push.stdout, push.stdout + push.stderr[-3000:]
    assert "; 0 left in the spool" in push.stdout, push.stdout
    manifest = check_killed_run_in_s3(spool)
    assert corpus_ls()["killed"]["articles"] == manifest["stats"]["articles"]

    rerun = crawl_once(small_news_site, spool, "next")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    check_every_article_once(tmp_path, small_news_site, manifest)


def test_two_concurrent_pushes_count_what_is_left(
    tmp_path: Path, small_news_site: HostileSite, moto: Moto  # noqa: F811
) -> None:
    """A crawl while S3 is down spools every file; then two `corpus push` at once: together
    they upload each file once, and both say 0 are left in the spool."""
    spool = tmp_path / "spool"
    moto.stop()
    options = [arg for s in [*settings(spool, "spooled"), "S3_UPLOAD_RETRIES=0",
                             "CLOSESPIDER_ITEMCOUNT=120"] for arg in ("-s", s)]  # fmt: skip
    offline = scrapy("crawl", "news", "-a", f"urls={small_news_site.base}/", *options, timeout=300)
    assert offline.returncode == 5, offline.stderr[-3000:]
    run_dir = spool / BUCKET / "x" / "news" / "spooled"
    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    assert len(files) > 6 and "manifest.json" in files, files
    moto.start()
    command = [sys.executable, "-m", "scrapy", "corpus", "push",
               "-s", f"ARCHIVE_URI={URI}", "-s", f"ARCHIVE_SPOOL={spool}"]  # fmt: skip
    pushes = [subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outputs = [push.communicate(timeout=300) for push in pushes]
    for push, (stdout, stderr) in zip(pushes, outputs, strict=True):
        assert push.returncode == 0, stdout + stderr[-3000:]
        assert "; 0 left in the spool" in stdout, stdout + stderr[-3000:]
    uploaded = sorted(
        int(stdout.split("uploaded ", 1)[1].split()[0]) for stdout, _ in outputs
    )
    assert uploaded == [0, len(files)], [o for o, _ in outputs]
    stored = objects("x/news/spooled/")
    assert sorted(stored) == files
    assert json.loads(stored["manifest.json"])["complete"] is True
    assert not [p for p in run_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("outcome", "killed", "complete"),
    [
        ({"status": "spooled", "exit_code": 5}, False, True),
        ({"status": "interrupted", "exit_code": 6}, False, False),
        ({"status": "storage_failed", "exit_code": 4}, False, False),
        (None, True, False),
    ],
)
def test_a_push_completes_only_a_run_that_lacked_only_its_upload(
    outcome: dict[str, object] | None, killed: bool, complete: bool
) -> None:
    manifest = {"files": [{"path": "warc/a.warc.gz", "stored": "spool"}], "killed": killed,
                "complete": False, "outcome": outcome}  # fmt: skip
    pushed = mark_pushed(manifest, "2026-12-07T00:00:00Z")
    assert pushed["complete"] is complete
    assert [f["stored"] for f in pushed["files"]] == ["archive"]
    status = (pushed["outcome"] or {}).get("status")
    assert status == ("ok" if complete else (outcome or {}).get("status"))
