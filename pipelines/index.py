"""Per-run indexes: CDXJ (pywb / cdxj-indexer format), the payload-digest index used for
revisit records, and WACZ packages.

The CDXJ index is written by cdxj-indexer itself, so what we publish is exactly what pywb and
other tools compute; WACZ packages are made by py-wacz, with our text records as pages.jsonl.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sqlite3
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

with warnings.catch_warnings():  # cdxj-indexer's py3amf still imports pkg_resources
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from cdxj_indexer.main import write_cdx_index

logger = logging.getLogger(__name__)

CDXJ_NAME = "index.cdxj"


def write_cdxj(warcs: Iterable[Path], out: Path) -> Path:
    """Sorted CDXJ of the given WARC files; `filename` fields are the WARC file names."""
    paths = sorted(str(p) for p in warcs)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not paths:
        out.write_text("", encoding="utf-8")
        return out
    tmp = out.with_name(out.name + ".tmp")
    write_cdx_index(str(tmp), paths, {"sort": True, "dir_root": str(Path(paths[0]).parent)})
    tmp.replace(out)
    return out


def cdxj_entries(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(urlkey, timestamp, fields) of each CDXJ line."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                urlkey, timestamp, fields = line.rstrip("\n").split(" ", 2)
                yield urlkey, timestamp, json.loads(fields)


@dataclass(frozen=True)
class Original:
    """Where a payload was first archived: what a revisit record refers to."""

    uri: str
    date: str  # WARC-Date of the original capture
    record_id: str | None  # its WARC-Record-ID, when known
    run_id: str | None = None  # where it is: the run, its WARC file and the record's offset
    filename: str | None = None
    offset: int | None = None


class PayloadIndex:
    """Payload digest -> first capture, for this run and earlier runs' CDXJ indexes.

    Kept in a private temporary SQLite database on disk (deleted when closed, or by the OS
    when the process dies), not in a dict: a dict entry cost ~400 bytes of heap per archived
    page, so memory grew with every page of a long crawl; SQLite's page cache stays ~2 MB."""

    def __init__(self) -> None:
        # "" = a private temporary on-disk database; one thread (the reactor) uses it
        self.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")  # nothing to recover: it dies with the run
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE payloads (digest TEXT PRIMARY KEY, uri TEXT NOT NULL,"
            " date TEXT NOT NULL, record_id TEXT, run_id TEXT, filename TEXT, offset INTEGER)"
            " WITHOUT ROWID"
        )
        self._count = 0
        self.loaded_runs = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, digest: str) -> bool:
        return self.get(digest) is not None

    def get(self, digest: str) -> Original | None:
        row = self.db.execute(
            "SELECT uri, date, record_id, run_id, filename, offset FROM payloads"
            " WHERE digest = ?",
            (digest,),
        ).fetchone()
        return Original(*row) if row else None

    def add(self, digest: str, original: Original) -> None:
        """Remember the first capture of a payload; later ones are ignored."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest, original.uri, original.date, original.record_id, original.run_id,
             original.filename, original.offset),
        )  # fmt: skip
        self._count += cursor.rowcount

    def close(self) -> None:
        self.db.close()

    def load_run(self, run_dir: Path) -> None:
        """Add the 200 responses of an earlier run (its indexes/index.cdxj and WARCs)."""
        index = run_dir / "indexes" / CDXJ_NAME
        if not index.is_file():
            return
        wanted: dict[tuple[str, int], str] = {}
        for _key, _ts, fields in cdxj_entries(index):
            digest = fields.get("digest")
            if fields.get("status") == "200" and digest and digest not in self:
                wanted[(fields["filename"], int(fields["offset"]))] = digest
        for (filename, offset), digest in sorted(wanted.items()):
            original = read_original(run_dir / "warc" / filename, offset)
            if original is not None:
                self.add(digest, replace(original, run_id=run_dir.name, filename=filename,
                                         offset=offset))  # fmt: skip
        self.loaded_runs += 1


def read_original(warc: Path, offset: int) -> Original | None:
    """URI, date and record id of the record at `offset` (its headers only)."""
    try:
        with warc.open("rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
    except (OSError, StopIteration) as exc:
        logger.warning("cannot read %s at %d for deduplication: %s", warc, offset, exc)
        return None
    headers = record.rec_headers
    return Original(
        headers.get_header("WARC-Target-URI"),
        headers.get_header("WARC-Date"),
        headers.get_header("WARC-Record-ID"),
    )


def pages_jsonl(records: Iterable[dict[str, Any]], out: Path) -> Path:
    """WACZ pages.jsonl: a header line, then one page per text record, with its text."""
    with out.open("w", encoding="utf-8") as handle:
        header = {"format": "json-pages-1.0", "id": "pages", "title": "Articles", "hasText": True}
        handle.write(json.dumps(header) + "\n")
        for record in records:
            page = {
                "id": record["id"],
                "url": record["url"],
                "ts": record["fetched_at"],
                "title": record.get("title") or record["url"],
                "text": record.get("text") or "",
            }
            handle.write(json.dumps(page, ensure_ascii=False) + "\n")
    return out


def write_run_wacz(run_dir: Path) -> Path:
    """`<run_dir>/<run_id>.wacz` from the run's finished WARCs and text records."""
    from pipelines.text import read_text_records

    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    title = f"{run_dir.parent.name} crawl {run_dir.name}"
    records = read_text_records(run_dir / "text")
    return write_wacz(warcs, records, run_dir / f"{run_dir.name}.wacz", title)


def write_wacz(
    warcs: Iterable[Path], records: Iterable[dict[str, Any]], out: Path, title: str
) -> Path:
    """A WACZ of the WARCs with our articles as pages (py-wacz builds and hashes it)."""
    from wacz.main import main as wacz_main  # heavy import (frictionless): only when asked

    paths = sorted(str(p) for p in warcs)
    if not paths:
        raise ValueError(f"no WARC files to package into {out}")
    with tempfile.TemporaryDirectory() as tmp:
        pages = pages_jsonl(records, Path(tmp) / "pages.jsonl")
        partial = out.with_name(out.name + ".tmp")
        chatter = io.StringIO()  # py-wacz reports progress with print(): keep stdout clean
        with contextlib.redirect_stdout(chatter):
            code = wacz_main(
                ["create", "-o", str(partial), "-p", str(pages), "--title", title, *paths]
            )
        logger.debug("wacz create: %s", chatter.getvalue())
    if code not in (0, None) or not partial.is_file():
        raise RuntimeError(f"wacz create failed ({code}) for {out}")
    partial.replace(out)
    return out
