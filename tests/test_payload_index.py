"""The persistent payload-digest index (pipelines/payloads.py): a run deduplicates against
earlier runs without reading their CDXJ again, only a run that closed cleanly joins it, and a
run whose folder is gone is forgotten. Real crawls of the demo site into one archive."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from crawler.demo.server import DemoServer
from tests.conftest import FAST, scrapy
from tests.test_archive_tools import warc_records


def crawl(base_url: str, archive: Path, run_id: str) -> str:
    result = scrapy(
        "crawl", "news", "-a", f"urls={base_url}/", "-a", "refetch=all",
        "-s", f"ARCHIVE_URI={archive}", "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def held_runs(archive: Path) -> dict[str, int]:
    with sqlite3.connect(archive / ".state" / "news-payloads.sqlite") as db:
        return dict(db.execute("SELECT run_id, payloads FROM runs"))


def responses(news: Path, *runs: str) -> set[str]:
    return {r.rec_headers["WARC-Record-ID"] for run in runs for _, r in warc_records(news / run)
            if r.rec_type == "response"}  # fmt: skip


def refers_to(run_dir: Path) -> list[str]:
    return [r.rec_headers["WARC-Refers-To"] for _, r in warc_records(run_dir)
            if r.rec_type == "revisit"]  # fmt: skip


def revisits_to(run_dir: Path) -> int:
    return sum(1 for _, r in warc_records(run_dir) if r.rec_type == "revisit")


def test_index_persists_across_runs_without_rereading_cdxj(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    news = archive / "news"
    with DemoServer() as server:
        crawl(server.base_url, archive, "run-1")
        first = held_runs(archive)
        assert list(first) == ["run-1"] and first["run-1"] > 16  # pages, feeds, robots.txt
        # the index, not run-1's CDXJ, is what run-2 deduplicates against
        (news / "run-1" / "indexes" / "index.cdxj").unlink()
        log = crawl(server.base_url, archive, "run-2")
        assert "of 1 earlier runs (0 read from their CDXJ now)" in log
        assert revisits_to(news / "run-2") >= 16
        assert set(held_runs(archive)) == {"run-1", "run-2"}
        # a run whose folder is removed is forgotten: nothing may refer to its records
        gone = {r.rec_headers["WARC-Record-ID"] for _, r in warc_records(news / "run-1")}
        shutil.rmtree(news / "run-1")
        crawl(server.base_url, archive, "run-3")
        assert set(held_runs(archive)) == {"run-2", "run-3"}
        # (run-3 may fetch none of the few pages whose first copy is in run-2: all responses)
        refers = refers_to(news / "run-3")
        assert set(refers) <= responses(news, "run-2", "run-3") and not set(refers) & gone
        # an archive from before the index: rebuilt from the runs' CDXJ at the next start
        for path in (archive / ".state").glob("news-payloads.sqlite*"):
            path.unlink()
        log = crawl(server.base_url, archive, "run-4")
        assert "of 2 earlier runs (2 read from their CDXJ now)" in log
        assert revisits_to(news / "run-4") >= 16
        refers = refers_to(news / "run-4")
        assert refers and set(refers) <= responses(news, "run-2", "run-3", "run-4")
        assert not set(refers) & gone
        # a damaged index (a cache) is rebuilt, not fatal
        (archive / ".state" / "news-payloads.sqlite").write_bytes(b"not a database" * 100)
        log = crawl(server.base_url, archive, "run-5")
        assert "unreadable" in log and "rebuilding it" in log
        assert "of 3 earlier runs (3 read from their CDXJ now)" in log
