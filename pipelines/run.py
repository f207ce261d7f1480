"""One crawl run: its id, its store and its key prefix `<spider>/<run_id>/`, shared by writers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

from scrapy.crawler import Crawler

from crawler.storage_base import run_id_for, safe_segment
from pipelines.storage import ArchiveStore, get_store

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from crawler.items import Article

_RUNS: WeakKeyDictionary[Crawler, Run] = WeakKeyDictionary()

MANIFEST_NAME = "manifest.json"
FIRST_TEXT_FOLDER = "text"  # text version 1: what the crawl wrote (`corpus reextract` adds more)


def current_text_folder(manifest: dict[str, Any] | None) -> str:
    """The folder of a run's current text version: `text` until `corpus reextract` ran."""
    manifest = manifest or {}
    current = manifest.get("text_version")
    for entry in manifest.get("text_versions") or []:
        if entry.get("version") == current and entry.get("folder"):
            return str(entry["folder"])
    return FIRST_TEXT_FOLDER


class TextRecordsWriter(Protocol):
    """Writes an article's WARC conversion and metadata records (pipelines.warc); fires with
    whether they were written. Looked up here so the text pipeline needs no import of it."""

    def write_text_records(self, item: Article) -> Deferred[bool]: ...


_TEXT_RECORDS_WRITERS: WeakKeyDictionary[Crawler, TextRecordsWriter] = WeakKeyDictionary()


def register_text_records_writer(crawler: Crawler, writer: TextRecordsWriter) -> None:
    _TEXT_RECORDS_WRITERS[crawler] = writer


def text_records_writer(crawler: Crawler) -> TextRecordsWriter | None:
    """The crawl's WARC capture, if enabled: the text pipeline has it write an article's
    conversion and metadata records before the text record (pipelines.text)."""
    return _TEXT_RECORDS_WRITERS.get(crawler)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Run:
    spider: str
    run_id: str
    store: ArchiveStore
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> manifest entry

    def persist(self, key: str, path: Path, records: Any = None) -> None:
        """Note a finished file for the manifest, then hand it to the store."""
        sha256 = file_sha256(path)
        self.files[key] = {
            "key": key,
            "size": path.stat().st_size,
            "sha256": sha256,
            "records": records,
        }
        self.store.persist(key, path, sha256)

    @property
    def prefix(self) -> str:
        return f"{self.spider}/{self.run_id}"

    def key(self, folder: str | None, name: str) -> str:
        """`<spider>/<run_id>/[<folder>/]<name>`, the name made safe."""
        return "/".join(p for p in (self.prefix, folder, safe_segment(name)) if p)


def run_for(crawler: Crawler) -> Run:
    """The crawler's Run, made on first use so every writer of one crawl agrees on it."""
    run = _RUNS.get(crawler)
    if run is None:
        settings = crawler.settings
        spider = crawler.spidercls.name if crawler.spidercls else "crawl"
        store = get_store(settings["ARCHIVE_URI"], settings)
        run = Run(safe_segment(spider), run_id_for(crawler), store)
        _RUNS[crawler] = run
    return run
