"""Crash repair: a `.open` file left by a killed run is cut to its last complete record and closed.

WARC files and text shards are both written one gzip member per record, so "complete record"
is "complete gzip member" (zlib checks each member's CRC and length). Files a live process still
holds (it keeps an flock on them) are left alone. A run whose orphans were repaired was killed:
it is then finished (its CDXJ index and a `"killed": true` manifest, pipelines.finish), so the
next run deduplicates against it and `scrapy corpus` lists and exports it.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler

from pipelines.finish import finish_killed_run
from pipelines.rotating import OPEN_SUFFIX
from pipelines.run import run_for
from pipelines.storage import storage_error_text, storage_failed

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
GZIP_WBITS = zlib.MAX_WBITS | 16


def complete_members_length(path: Path) -> int:
    """Length of the longest prefix of `path` made only of complete gzip members."""
    good_end = position = 0
    decompressor = zlib.decompressobj(GZIP_WBITS)
    with path.open("rb") as handle:
        data = handle.read(CHUNK)
        while data:
            try:
                decompressor.decompress(data)
            except zlib.error:
                break  # a torn or garbage member: everything before it is good
            if decompressor.eof:
                unused = decompressor.unused_data
                position += len(data) - len(unused)
                good_end = position
                decompressor = zlib.decompressobj(GZIP_WBITS)
                data = unused or handle.read(CHUNK)
            else:
                position += len(data)
                data = handle.read(CHUNK)
    return good_end


@dataclass
class Repaired:
    path: Path  # the closed file (None-like when an empty file was removed)
    kept_bytes: int
    dropped_bytes: int


def repair_open_file(open_path: Path) -> Repaired | None:
    """Truncate and rename one orphaned `.open` file; None when a live process holds it."""
    with open_path.open("r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # still being written by a running crawl
        size = os.fstat(handle.fileno()).st_size
        keep = complete_members_length(open_path)
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    final = open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX))
    if keep == 0:
        open_path.unlink()  # not one complete record: nothing to keep
        return Repaired(final, 0, size)
    if final.exists():  # never overwrite a finished file
        final = final.with_name(f"repaired-{final.name}")
    open_path.rename(final)
    return Repaired(final, keep, size - keep)


def repair_orphans(root: Path) -> list[Repaired]:
    """Repair every orphaned `.open` file below `root` (an archive or spool folder)."""
    done = []
    for open_path in sorted(root.rglob(f"*{OPEN_SUFFIX}")):
        if not open_path.is_file():
            continue
        result = repair_open_file(open_path)
        if result is None:
            logger.info("left alone, still being written: %s", open_path)
            continue
        logger.warning(
            "repaired orphaned %s: kept %d bytes of complete records, dropped %d torn bytes -> %s",
            open_path,
            result.kept_bytes,
            result.dropped_bytes,
            result.path if result.kept_bytes else "(removed, no complete record)",
        )
        done.append(result)
    return done


def shard_urls(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["url"] for line in handle if line.strip()]


class OrphanRepairExtension:
    """On spider_opened, before any file of this run is opened, repair earlier runs' orphans."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OrphanRepairExtension:
        return cls(crawler)

    def mark_stored_articles_seen(self, repaired: list[Path]) -> None:
        """A killed run may have written an article but died before marking it seen: what a
        repaired text shard holds is stored, so the next run must not fetch it again."""
        shards = [p for p in repaired if p.parent.name == "text"]
        if not shards:
            return
        from crawler.discovery import canonical
        from crawler.seen import open_seen_store

        store = open_seen_store(self.crawler)
        try:
            for shard in shards:
                for url in shard_urls(shard):
                    if not store.has_article(canonical(url)):
                        store.mark_article(canonical(url), shard.parent.parent.name)
        finally:
            store.close()

    def finish_killed_runs(self, folder: Path, repaired: list[Repaired], current: str) -> int:
        """Index and manifest for each run whose orphans were just repaired: it was killed.
        (A run folder with no orphan is never guessed at: a live run between two files has
        no `.open` file either.)"""
        run_ids = sorted({r.path.relative_to(folder).parts[0] for r in repaired})
        store = run_for(self.crawler).store
        finished = 0
        for run_id in run_ids:
            if run_id == current:  # a rerun with the same fixed ARCHIVE_RUN_ID writes it now
                logger.warning("killed run %s is this run's folder: not finished", run_id)
                continue
            try:
                finished += finish_killed_run(store, folder.name, run_id) is not None
            except Exception as exc:  # a run we cannot read must not stop this crawl starting
                if storage_error_text(exc) is not None:  # a full disk does: nothing can be stored
                    storage_failed(self.crawler, folder / run_id, exc)
                    break
                logger.exception("could not finish killed run %s/%s", folder.name, run_id)
        return finished

    def spider_opened(self) -> None:
        run = run_for(self.crawler)
        folder = run.store.local_root / run.spider
        if folder.is_dir():
            repaired = repair_orphans(folder)
            self.crawler.stats.set_value("archive/repaired_files", len(repaired))
            self.mark_stored_articles_seen([r.path for r in repaired if r.kept_bytes])
            # before WarcCaptureExtension.spider_opened (a higher EXTENSIONS number) reads
            # earlier runs' indexes for deduplication, and before the S3 push below
            finished = self.finish_killed_runs(folder, repaired, run.run_id)
            self.crawler.stats.set_value("archive/finished_killed_runs", finished)
        push = getattr(run.store, "push", None)
        if push is not None and run.store.spooled():  # S3: what earlier runs could not upload
            # one attempt each: if S3 is still down, the crawl should not wait on it
            done, left = push(retries=0, skip=run.prefix)
            logger.info("pushed %d file(s) earlier runs left in the spool; %d still there",
                        len(done), len(left))  # fmt: skip
            self.crawler.stats.set_value("archive/pushed_from_spool", len(done))
