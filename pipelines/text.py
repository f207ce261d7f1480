"""Clean-text shards: one JSON object a line, gzip, `<spider>/<run_id>/text/*.jsonl.gz`."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from scrapy.crawler import Crawler

from crawler.items import Article
from pipelines.rotating import RotatingFile, RotationLimits
from pipelines.run import run_for

logger = logging.getLogger(__name__)


class TextShardPipeline:
    """Appends each Article to the current shard; a full shard is closed and a new one begun."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run = run_for(crawler)
        self.gzip: gzip.GzipFile | None = None
        self.files = RotatingFile(
            self.run.store,
            self._key,
            RotationLimits(max_records=crawler.settings.getint("TEXT_SHARD_MAX_RECORDS")),
            on_open=self._start_file,
            before_close=self._finish_gzip,
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TextShardPipeline:
        return cls(crawler)

    def _key(self, serial: int) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return self.run.key("text", f"{self.run.spider}-{stamp}-{serial:05d}.jsonl.gz")

    def _start_file(self, handle: BinaryIO, name: str) -> None:
        self.gzip = gzip.GzipFile(filename=name.removesuffix(".gz"), mode="wb", fileobj=handle)

    def _finish_gzip(self) -> None:
        if self.gzip is not None:
            self.gzip.close()  # writes the gzip trailer; the file itself stays open
            self.gzip = None

    def process_item(self, item: object) -> object:
        if not isinstance(item, Article):
            return item
        self.files.stream()
        assert self.gzip is not None
        line = json.dumps(item.to_record(), ensure_ascii=False) + "\n"
        self.gzip.write(line.encode("utf-8"))
        self.files.record_written()
        self.crawler.stats.inc_value("archive/text_records")
        return item

    def close_spider(self) -> Path | None:
        return self.files.close()
