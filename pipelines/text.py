"""Clean-text shards: one JSON object a line, `<spider>/<run_id>/text/*.jsonl.gz`.

Each line is its own gzip member (a multi-member gzip file, read by gzip, zcat, pandas and
DuckDB as one stream), so a shard cut short by a crash is repaired by truncating it at a member
boundary, exactly like a WARC file (pipelines.repair).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.frontier.distributed import file_name_tag
from crawler.items import Article
from crawler.storage_base import STORAGE_ERRORS, storage_broken, storage_failed
from pipelines.rotating import RotatingFile, RotationLimits
from pipelines.run import run_for, text_records_writer

logger = logging.getLogger(__name__)


def read_shard(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one text shard."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_text_records(text_dir: Path) -> Iterator[dict[str, Any]]:
    """Every record of the finished shards in a run's text/ folder, in shard order."""
    for shard in sorted(text_dir.glob("*.jsonl.gz")):
        yield from read_shard(shard)


def encode_record(article: Article) -> bytes:
    """One text record as written to a shard: a JSON line in a gzip member of its own (so a
    killed crawl's shard can be cut back to its last whole record)."""
    line = json.dumps(article.to_record(), ensure_ascii=False) + "\n"
    return gzip.compress(line.encode("utf-8"), mtime=0)


class TextShardPipeline:
    """Appends each Article to the current shard; a full shard is closed and a new one begun.

    An article's writes go in this order, so that a failure at any one of them (a full disk, a
    kill) leaves it either stored or to be fetched again: (1) its WARC conversion and metadata
    records, awaited here; (2) its text record, the one corpus commands read; (3) its seen mark,
    by the spider at `item_scraped`. A failure at (1) or (2) stores no text record, and nothing
    is marked seen. A failure at (3) leaves a text record not marked seen, and the run is not
    closed in the seen-store: the next run's start marks it from the text (pipelines.repair)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run = run_for(crawler)
        tag = file_name_tag(crawler.settings)  # distributed: the worker id keeps names unique
        self.name_suffix = f"-{tag}" if tag else ""
        self.files = RotatingFile(
            self.run,
            self._key,
            RotationLimits(max_records=crawler.settings.getint("TEXT_SHARD_MAX_RECORDS")),
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TextShardPipeline:
        return cls(crawler)

    def _key(self, serial: int) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"{self.run.spider}-{stamp}-{serial:05d}{self.name_suffix}.jsonl.gz"
        return self.run.key("text", name)

    async def process_item(self, item: object) -> object:
        if not isinstance(item, Article):
            return item
        # Dropped, not scraped, when it is not stored: the spider marks only scraped items
        # seen, so the next run fetches it again. (One error line said why; DEBUG for each.)
        self.check_storable(item)
        capture = text_records_writer(self.crawler)
        if capture is not None and not await maybe_deferred_to_future(
            capture.write_text_records(item)
        ):
            raise DropItem("not stored: its text records are not in the WARC", log_level="DEBUG")
        self.check_storable(item)  # a write elsewhere may have failed meanwhile
        return self.write(item)

    def check_storable(self, item: Article) -> None:
        if storage_broken(self.crawler):
            raise DropItem("not stored: a write to the archive failed", log_level="DEBUG")
        if item.warc_record_id and item.warc_filename is None:  # its capture was not written
            raise DropItem("not stored: its capture is not in the WARC", log_level="DEBUG")

    def write(self, item: Article) -> Article:
        try:
            self.files.stream().write(encode_record(item))
            self.files.record_written()
        except STORAGE_ERRORS as exc:
            self.storage_failed(exc)
            raise DropItem(f"not stored: {exc}", log_level="DEBUG") from exc
        self.crawler.stats.inc_value("archive/text_records")
        return item

    def storage_failed(self, error: Exception) -> None:
        storage_failed(self.crawler, self.files.open_path, error)
        self.files.salvage()

    def close_spider(self) -> Path | None:
        try:
            return self.files.close()
        except STORAGE_ERRORS as exc:
            self.storage_failed(exc)
            return None
