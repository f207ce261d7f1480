"""The payload-digest index shared in Redis (pipelines/payloads_redis.py): in a distributed
crawl a payload one worker archived becomes a revisit record in another worker's later run,
although the two share no disk (here: two archive folders, as on two machines)."""

from __future__ import annotations

import json
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import DemoServer
from tests.conftest import FAST, scrapy, text_records
from tests.test_distributed import RedisServer, redis_server  # noqa: F401

PREFIX = "test-payloads"


def crawl(archive: Path, url: str, redis_url: str, worker: str, *extra: str) -> Path:
    result = scrapy(
        "crawl", "news", "-a", f"urls={url}/", "-s", f"ARCHIVE_URI={archive}",
        "-s", f"ARCHIVE_RUN_ID=run-{worker}", "-s", f"REDIS_URL={redis_url}",
        "-s", f"REDIS_KEY_PREFIX={PREFIX}", "-s", f"REDIS_CRAWL_ID=crawl-{worker}",
        "-s", f"WORKER_ID={worker}", *FAST, *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return archive / "news" / f"run-{worker}"


def captures(run: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Target URI -> (record type, WARC headers) of a run's responses and revisits."""
    found = {}
    for warc in sorted((run / "warc").glob("*.warc.gz")):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type in ("response", "revisit"):
                    headers = dict(record.rec_headers.headers)
                    found[headers["WARC-Target-URI"]] = (record.rec_type, headers)
    return found


def test_a_payload_archived_by_one_worker_is_a_revisit_for_another(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    with DemoServer() as server:
        first = crawl(tmp_path / "machine-a", server.base_url, redis_server.url, "w1")
        # a second crawl on another machine fetches the same pages again (refetch=all)
        second = crawl(
            tmp_path / "machine-b", server.base_url, redis_server.url, "w2", "-a", "refetch=all"
        )
    originals = captures(first)
    articles = {r["url"] for r in text_records(first)}
    assert len(articles) >= 10, "the first crawl stored too few articles to prove anything"
    again = captures(second)
    for url in articles:
        kind, headers = again[url]
        assert kind == "revisit", f"{url}: stored again in full, not deduplicated"
        _, original = originals[url]
        assert headers["WARC-Refers-To"] == original["WARC-Record-ID"]
        assert headers["WARC-Payload-Digest"] == original["WARC-Payload-Digest"]
    # the second run's text records point at the first run's records, which hold the bytes
    pointed = {r["url"]: r for r in text_records(second)}
    for url in articles & pointed.keys():
        assert pointed[url]["warc_run_id"] == "run-w1"
    # the first run's payloads joined the shared index when it closed; nothing is left pending
    keys = {k.decode() for k in redis_server.client.keys(f"{PREFIX}:seen:news:*")}
    assert f"{PREFIX}:seen:news:payloads" in keys
    assert not [k for k in keys if ":pending:" in k]
    runs = redis_server.client.hgetall(f"{PREFIX}:seen:news:payload_runs")
    assert {k.decode(): int(v) for k, v in runs.items()}["run-w1"] >= len(articles)
    manifest = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stats"]["revisit_bytes_saved"] > 0
