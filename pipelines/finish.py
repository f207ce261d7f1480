"""Finishing a killed run: once crash repair has closed its `.open` files, it gets the CDXJ index
and the manifest that its own end would have written.

Without them the run is half-invisible: the next run does not deduplicate against it (revisits
are found through each earlier run's `indexes/index.cdxj`), and `scrapy corpus ls / get /
export` read manifests, so its articles never reach a researcher.

The manifest of a killed run says so: `"complete": false, "killed": true`. Its files are listed
like any run's (key, size, sha256, record counts), and its counts are read from those files.
Scrapy's stats died with the process, so only what the files show is in `stats`
(`stats_source` says so). The crawl settings are not known (`settings`: null); `software` is
what its WARCs' warcinfo records name. Start and end are the first and last WARC-Date it wrote.

Never touched: a run that still has an `.open` file (a live process holds it, or it could not
be repaired), a run that already has a manifest, and the running crawl's own run folder.
S3 archives: a killed run is finished in the spool only when none of its files reached S3 yet
(the usual case: files go up when they close, and WARCs close at 1 GiB or 24 h). If some did,
indexing it would mean downloading them first. It is left without a manifest then, as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from pipelines.index import write_run_index
from pipelines.manifest import ContentSummary, manifest_head, write_manifest
from pipelines.rotating import OPEN_SUFFIX
from pipelines.run import MANIFEST_NAME, Run
from pipelines.storage import ArchiveStore
from pipelines.text import read_shard

logger = logging.getLogger(__name__)

STATS_SOURCE = (
    "counted from the run's files: the run was killed, and Scrapy's stats died with it "
    "(requests and errors that left no WARC record are unknown)"
)


@dataclass
class WarcScan:
    """What one WARC file tells about the run that wrote it."""

    counts: Counter[str] = field(default_factory=Counter)  # records by type
    first_date: str | None = None
    last_date: str | None = None
    software: str | None = None  # the warcinfo record's `software:` line


def scan_warc(path: Path) -> WarcScan:
    scan = WarcScan()
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            scan.counts[record.rec_type] += 1
            date = record.rec_headers.get_header("WARC-Date")
            if date:
                scan.first_date = min(scan.first_date or date, date)
                scan.last_date = max(scan.last_date or date, date)
            if record.rec_type == "warcinfo" and scan.software is None:
                for line in record.content_stream().read().decode("utf-8", "replace").splitlines():
                    name, _, value = line.partition(":")
                    if name.strip() == "software":
                        scan.software = value.strip()
    return scan


def software_of(line: str | None) -> dict[str, str]:
    """`newsarchiver/0.1 scrapy/2.19 ...` -> {"newsarchiver": "0.1", "scrapy": "2.19", ...}"""
    found = {}
    for token in (line or "").split():
        name, _, release = token.partition("/")
        if name and release:
            found[name] = release
    return found


def iso(warc_date: str | None) -> str | None:
    """A WARC-Date as the manifest writes times (`datetime.isoformat()`, UTC offset)."""
    if not warc_date:
        return None
    return datetime.fromisoformat(warc_date).astimezone(UTC).isoformat()


class SpoolOnly:
    """The store, with persisting left to its `push()` (S3: every file of an old run goes up
    there, the manifest after the rest); local stores persist nothing anyway."""

    def __init__(self, store: ArchiveStore) -> None:
        self.store = store
        self.uri = store.uri
        self.local_root = store.local_root

    def local_path(self, key: str) -> Path:
        return self.store.local_path(key)

    def persist(self, key: str, path: Path, sha256: str) -> None:
        return None

    def drain(self) -> list[str]:
        return []


def reached_s3(store: ArchiveStore, prefix: str) -> bool | None:
    """Whether S3 holds any object of the run (None: S3 could not be asked)."""
    client = getattr(store, "client", None)
    if client is None:
        return False  # a local archive
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = client.list_objects_v2(
            Bucket=store.bucket,  # type: ignore[attr-defined]
            Prefix=store.object_key(prefix) + "/",  # type: ignore[attr-defined]
            MaxKeys=1,
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("cannot list s3 objects of %s: %s", prefix, exc)
        return None
    return bool(found.get("KeyCount"))


def finish_killed_run(store: ArchiveStore, spider: str, run_id: str) -> Path | None:
    """Write the CDXJ index and a `"killed": true` manifest for a killed run whose files are
    all closed. Returns the manifest's local path, or None when the run is left alone."""
    run = Run(spider, run_id, SpoolOnly(store))
    run_dir = store.local_root / run.prefix
    if not run_dir.is_dir():
        return None
    still_open = sorted(run_dir.rglob(f"*{OPEN_SUFFIX}"))
    if still_open:
        logger.info("run %s not finished: %s is still open", run.prefix, still_open[0])
        return None
    if (run_dir / MANIFEST_NAME).exists():
        logger.info("run %s not finished: it already has a manifest", run.prefix)
        return None
    if reached_s3(store, run.prefix) is not False:
        logger.warning(
            "killed run %s left without index and manifest: some of its files are in S3 "
            "already (or S3 could not be asked), and indexing them would mean downloading them",
            run.prefix,
        )
        return None

    def key_of(path: Path) -> str:
        return path.relative_to(store.local_root).as_posix()

    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    warc_counts: Counter[str] = Counter()
    dates: list[str] = []
    software: dict[str, str] = {}
    for warc in warcs:
        scan = scan_warc(warc)
        run.persist(key_of(warc), warc, dict(scan.counts))
        warc_counts.update(scan.counts)
        dates += [d for d in (scan.first_date, scan.last_date) if d]
        software = software or software_of(scan.software)

    content = ContentSummary()
    text_records = 0
    for shard in sorted((run_dir / "text").glob("*.jsonl.gz")):
        records = 0
        for record in read_shard(shard):
            content.add_record(record)
            records += 1
        run.persist(key_of(shard), shard, records)
        text_records += records

    write_run_index(run, warcs)

    listed = {store.local_root / key for key in run.files}
    for other in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if other not in listed and not other.name.endswith(".tmp"):
            run.persist(key_of(other), other)  # anything else the run left: listed too

    manifest = {
        **manifest_head(run),
        "started_at": iso(min(dates, default=None)),
        "finished_at": iso(max(dates, default=None)),  # its last complete record
        "finish_reason": "killed",
        "complete": False,
        "killed": True,
        "finished_by_repair_at": datetime.now(UTC).isoformat(),
        "files": [{**entry, "stored": "archive"} for _key, entry in sorted(run.files.items())],
        "stats": {
            "requests": warc_counts["request"],
            "responses": warc_counts["response"] + warc_counts["revisit"],
            "articles": text_records,
            "text_records": text_records,
            "warc_records": dict(sorted(warc_counts.items())),
        },
        "stats_source": STATS_SOURCE,
        "content": content.as_dict(),
        "settings": None,  # a killed run's settings are recorded nowhere
        "software": software,
    }
    _key, path = write_manifest(run, manifest)
    logger.warning(
        "finished killed run %s: index of %d WARC file(s), manifest of %d file(s), %d article(s)",
        run.prefix, len(warcs), len(run.files), text_records,
    )  # fmt: skip
    return path
