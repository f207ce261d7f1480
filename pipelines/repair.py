"""Crash repair: a `.open` file left by a killed run is cut to its last complete record and closed.

WARC files and text shards are both written one gzip member per record, so "complete record"
is "complete gzip member" (zlib checks each member's CRC and length). Files a live process still
holds (it keeps an flock on them) are left alone. A run whose orphans were repaired was killed:
it is then finished (its CDXJ index and a `"killed": true` manifest, pipelines.finish), so the
next run deduplicates against it and `scrapy corpus` lists and exports it.

The seen-store is made to agree with the text shards. An article is written in this order:
its WARC conversion and metadata records, then its text record, then its seen mark
(pipelines.text). A run that died or hit a full disk between the last two left articles in its
text that are not marked seen: the seen-store records which runs closed cleanly (`open_run`,
`close_run`), and at the next start every article of a run that did not is marked from its text
shards. So an article is either in the text (with its WARC records) and seen, or in neither and
fetched again.

S3: a killed run's files that went up before it died are fetched back into the spool for this
(and for its index and manifest), then deleted from the spool again; `push` uploads the rest,
the manifest last. `scrapy corpus push` finishes the killed runs the spool holds the same way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.frontier.distributed import redis_enabled
from crawler.frontier.seen import Seen, SeenStore, open_seen_store, text_digest
from crawler.storage_base import storage_broken, storage_error_text, storage_failed
from pipelines.finish import SpoolOnly, finish_killed_run
from pipelines.rotating import OPEN_SUFFIX, Repaired, repair_open_file
from pipelines.run import MANIFEST_NAME, run_for
from pipelines.storage import ArchiveStore
from pipelines.text import read_shard

if TYPE_CHECKING:
    from pipelines.storage.s3 import S3ArchiveStore

logger = logging.getLogger(__name__)


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


def mark_run_seen(seen: Seen, run_dir: Path) -> int:
    """Mark seen every article in a run's text shards that is not marked yet, with its text's
    digest (as the spider marks it); how many were not."""
    from crawler.discovery.documents import canonical

    marked = 0
    for shard in sorted((run_dir / "text").glob("*.jsonl.gz")):
        for record in read_shard(shard):
            key = canonical(record["url"])
            if not seen.has_article(key):
                seen.mark_article(key, run_dir.name, text_digest=text_digest(record["text"]))
                marked += 1
    return marked


@contextlib.contextmanager
def run_in_spool(store: ArchiveStore, prefix: str, finishing: bool) -> Iterator[bool]:
    """For the block: the run's files that S3 holds and the spool does not (they go up as they
    close) fetched into the spool, its text shards only unless `finishing` (its index and
    manifest read every file); deleted again after it, since S3 has them. Yields whether the
    spool then holds them all (False: S3 could not be read); a local archive holds them."""
    fetched: list[Path] = []
    whole = True
    if store.remote:
        from pipelines.storage.s3 import UPLOAD_ERRORS  # boto3: only for S3 archives

        try:
            for key in store.remote_keys(prefix):  # type: ignore[attr-defined]
                local = store.local_root / key
                if "/text/" not in key and not finishing:
                    continue
                if not local.exists() and not local.with_name(local.name + OPEN_SUFFIX).exists():
                    fetched.append(store.fetch(key))  # type: ignore[attr-defined]
        except UPLOAD_ERRORS as exc:
            logger.warning("cannot fetch the files of run %s from %s: %s", prefix, store.uri, exc)
            whole = False
    try:
        yield whole
    finally:
        for path in fetched:
            path.unlink(missing_ok=True)


def manifestless_runs(store: ArchiveStore, folder: Path, current: str) -> set[str]:
    """Earlier runs of a spider without a manifest: killed, or failed while writing it (after
    their last article was marked seen). Called only under the crawl lock, so none of them is
    still running. In an S3 spool, only those that reserved the manifest's room there: a
    pushed run's spool folder holds no manifest either."""
    if not folder.is_dir():
        return set()
    spool = store.remote
    return {
        run.name for run in folder.iterdir()
        if run.is_dir() and run.name != current and not (run / MANIFEST_NAME).exists()
        and (not spool or (run / (MANIFEST_NAME + ".tmp")).exists())
    }  # fmt: skip


def unfinished(store: ArchiveStore, prefix: str) -> bool:
    """Whether a run has no manifest yet, in the spool or in S3 (killed, or its end failed)."""
    if (store.local_root / prefix / MANIFEST_NAME).exists():
        return False
    if not store.remote:
        return True
    from pipelines.storage.s3 import UPLOAD_ERRORS  # boto3: only for S3 archives

    try:
        return f"{prefix}/{MANIFEST_NAME}" not in store.remote_keys(prefix)  # type: ignore[attr-defined]
    except UPLOAD_ERRORS as exc:  # not knowable now: left for a later start or `corpus push`
        logger.warning("run %s left as it is: cannot list its files in %s: %s", prefix,
                       store.uri, exc)  # fmt: skip
        return False


def settle_run(
    store: ArchiveStore, seen: Seen | None, spider: str, run_id: str, finishing: bool
) -> bool | None:
    """Mark seen (in `seen`) what an earlier run stored, and close it there; when `finishing`
    (killed, or no manifest), finish it too: finish_killed_run(), on S3 as well when some of
    its files went up before it died (the manifest, written in the spool, lists them with the
    rest; `push` uploads it last). Whether it was finished; None when S3 could not be read
    (the run stays open in `seen`, for the next start)."""
    prefix = f"{spider}/{run_id}"
    with run_in_spool(store, prefix, finishing) as whole:
        marked = mark_run_seen(seen, store.local_root / prefix) if seen is not None else 0
        if marked:
            logger.warning("run %s: %d stored article(s) were not marked seen; marked now",
                           prefix, marked)  # fmt: skip
        if not whole:
            logger.warning("run %s left unfinished: its files in S3 cannot be read now", prefix)
            if seen is not None:
                seen.open_run(run_id)
            return None
        finished = False
        if finishing and (store.local_root / prefix).is_dir():
            # the spool holds every file of the run now: finished as if none had gone up
            # (SpoolOnly has no S3 client to ask)
            finished = finish_killed_run(SpoolOnly(store), spider, run_id) is not None
        # closed last: a failure above (a full disk while indexing) leaves it open for the next
        # start, which marks and finishes it again
        if seen is not None:
            seen.close_run(run_id)
        return finished


def finish_spooled_runs(store: S3ArchiveStore) -> list[str]:
    """For `scrapy corpus push`: the killed runs the spool holds unfinished (the room their
    manifest reserved is there, the manifest is not), repaired and finished as a crawl's start
    would. Only while no crawl of their spider runs (its lock is free): a running crawl's own
    run looks the same. The articles of repaired text shards are marked in the spider's SQLite
    seen-store; without one (a distributed crawl's is in Redis) a run with `.open` files is
    left to the crawl's own next start."""
    from pipelines.storage.s3 import lock_file

    finished = []
    spiders = [p for p in store.local_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for spider_dir in sorted(spiders):
        spider = spider_dir.name
        state = store.local_root / ".state"  # CrawlLockExtension's lock, the seen-store's file
        state.mkdir(parents=True, exist_ok=True)
        with (state / f"{spider}.lock").open("a") as handle:
            if not lock_file(handle, wait=False):
                logger.warning("%s is crawling: its killed runs are finished by it", spider)
                continue
            seen_path = state / f"{spider}-seen.sqlite"
            seen = SeenStore(seen_path) if seen_path.exists() else None
            try:
                for run_id in sorted(manifestless_runs(store, spider_dir, current="")):
                    if not unfinished(store, f"{spider}/{run_id}"):  # its manifest is in S3
                        continue
                    if seen is not None:
                        repair_orphans(spider_dir / run_id)
                    if settle_run(store, seen, spider, run_id, finishing=True):
                        finished.append(f"{spider}/{run_id}")
            finally:
                if seen is not None:
                    seen.close()
    return finished


class OrphanRepairExtension:
    """On spider_opened, before any file of this run is opened, repair earlier runs' orphans,
    finish killed runs and mark seen what runs that did not close cleanly stored; on
    spider_closed, note that this run's marks are whole (unless a write failed)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.connect_close, signal=signals.engine_started)

    def connect_close(self) -> None:
        """Handlers run in the order they were connected: connected now, after every
        extension's own, this run is closed in the seen-store only once RunManifestExtension
        wrote its manifest (a kill or a full disk while that is written leaves it open, and
        the next start finishes it)."""
        self.crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OrphanRepairExtension:
        return cls(crawler)

    def settle_runs(self, folder: Path, killed: set[str], current: str) -> int:
        """Earlier runs whose articles may not all be marked seen (killed, or a write failed):
        marked from their text, and finished when they have no manifest."""
        store = run_for(self.crawler).store
        seen = open_seen_store(self.crawler)
        finished = 0
        try:
            if current in killed:  # a rerun with the same fixed ARCHIVE_RUN_ID writes it now
                logger.warning("killed run %s is this run's folder: not finished", current)
                mark_run_seen(seen, folder / current)
            # a distributed crawl's workers share the folder and take no crawl lock: another
            # worker's live run has no manifest yet either, so only the seen-store says there
            suspects = killed | set(seen.unclosed_runs())
            if not redis_enabled(self.crawler.settings):
                suspects |= manifestless_runs(store, folder, current)
            for run_id in sorted(suspects - {current}):
                if storage_broken(self.crawler):
                    break
                finishing = run_id in killed or unfinished(store, f"{folder.name}/{run_id}")
                try:
                    finished += bool(settle_run(store, seen, folder.name, run_id, finishing))
                except Exception as exc:  # a run we cannot read must not stop this crawl
                    if storage_error_text(exc) is not None:  # a full disk does
                        storage_failed(self.crawler, folder / run_id, exc)
                        break
                    logger.exception("could not finish killed run %s/%s", folder.name, run_id)
            seen.open_run(current)  # closed at its end, if every article it stores is marked
        finally:
            seen.close()
        return finished

    def spider_opened(self) -> None:
        run = run_for(self.crawler)
        folder = run.store.local_root / run.spider
        repaired = repair_orphans(folder) if folder.is_dir() else []
        self.crawler.stats.set_value("archive/repaired_files", len(repaired))
        # before WarcCaptureExtension.spider_opened (a higher EXTENSIONS number) reads
        # earlier runs' indexes for deduplication, and before the S3 push below
        killed = {r.path.relative_to(folder).parts[0] for r in repaired}
        finished = self.settle_runs(folder, killed, run.run_id)
        self.crawler.stats.set_value("archive/finished_killed_runs", finished)
        push = getattr(run.store, "push", None)
        if push is not None and run.store.spooled():  # S3: what earlier runs could not upload
            # one attempt each, and none while `corpus push` pushes: the crawl does not wait
            done, left = push(retries=0, skip=run.prefix, wait=False)
            logger.info("pushed %d file(s) earlier runs left in the spool; %d still there",
                        len(done), len(left))  # fmt: skip
            self.crawler.stats.set_value("archive/pushed_from_spool", len(done))

    def spider_closed(self) -> None:
        if storage_broken(self.crawler):  # an article may be in the text and not marked seen
            return
        seen = open_seen_store(self.crawler)
        try:
            seen.close_run(run_for(self.crawler).run_id)
        finally:
            seen.close()
