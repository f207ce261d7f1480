"""Per-run indexes: CDXJ (pywb / cdxj-indexer format) and WACZ packages. The payload-digest
index used for revisit records: pipelines.payloads.

The CDXJ index is cdxj-indexer's: a live crawl hands it each record as it is written
(`RunIndexLines`, its field rules and its external sort), so closing a run does not read its
WARCs again; a killed run's WARCs are read by it in full (`write_cdxj`). Either way what we
publish is what pywb and other tools compute. WACZ packages are made by py-wacz, with our own
pages.jsonl: every HTML page the run captured (revisits too), titled from its text record.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

import crawler.net.encodings  # noqa: F401  warcio reads br records with Google's brotli (#13)

with warnings.catch_warnings():  # cdxj-indexer's py3amf still imports pkg_resources
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from cdxj_indexer.main import CDXJIndexer, SortingWriter, write_cdx_index

if TYPE_CHECKING:
    from pipelines.run import Run

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
    try:
        write_cdx_index(str(tmp), paths, {"sort": True, "dir_root": str(Path(paths[0]).parent)})
        tmp.replace(out)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk: free what the partial index took
        raise
    return out


class RecordPlace:
    """Where a record was written: what cdxj-indexer asks its ArchiveIterator for."""

    def __init__(self, offset: int, length: int) -> None:
        self.offset, self.length = offset, length

    def get_record_offset(self) -> int:
        return self.offset

    def get_record_length(self) -> int:
        return self.length


class RunIndexLines:
    """The run's CDXJ lines, made as each record is written, by cdxj-indexer's own rules: its
    indexer reads the record's headers as a reader parses them from the file (the bytes that
    were written, the payload left out), and its sorting writer sorts the lines, spilling to
    temporary files past 32 MB, so memory stays flat. Written by one thread."""

    def __init__(self) -> None:
        self._indexer = CDXJIndexer(None, [])
        self._loader = ArcWarcRecordLoader(verify_http=False, arc2warc=True)  # as ArchiveIterator
        self._lines = SortingWriter(None)
        self.files: set[str] = set()  # WARC file names whose records were added
        self.complete = True  # False once a file was cut back (salvage): read the WARCs instead

    def add(self, record: ArcWarcRecord, filename: str, offset: int, length: int) -> None:
        """A record just written whole to `filename` at `offset` (`length` bytes, gzipped)."""
        self.files.add(filename)
        if record.rec_type not in self._indexer.include_records:
            return  # warcinfo, request, conversion: never indexed (the cheap test first)
        head = record.rec_headers.to_bytes(encoding="utf-8")  # as warcio writes them
        if record.http_headers is not None:
            head += record.http_headers.headers_buff or b""
        as_read = self._loader.parse_record_stream(io.BytesIO(head), known_format="warc")
        if self._indexer.filter_record(as_read):
            self._indexer.curr_filename = filename
            place = RecordPlace(offset, length)
            self._indexer.process_index_entry(place, as_read, filename, self._lines)

    def add_warc(self, path: Path) -> None:
        """A WARC this process did not write (an earlier process of a rerun with the same
        run id), read in full as cdxj-indexer does."""
        with path.open("rb") as handle:
            self._indexer.process_one(handle, self._lines, path.name)
        self.files.add(path.name)

    def write(self, warcs: Iterable[Path], out: Path) -> Path:
        """The sorted index of `warcs` (all in one folder), as `write_cdxj` would write it."""
        paths = sorted(warcs)
        if not self.complete or not self.files <= {p.name for p in paths}:
            return write_cdxj(paths, out)  # a file was cut or left open: what is there counts
        for path in paths:
            if path.name not in self.files:
                self.add_warc(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                self._lines.out = handle
                self._lines.flush()
            tmp.replace(out)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: free what the partial index took
            raise
        return out


def write_run_index(run: Run, warcs: Iterable[Path], lines: RunIndexLines | None = None) -> Path:
    """The run's `indexes/index.cdxj` from its WARCs (from `lines` made while they were
    written, else read from the files), persisted (listed in its manifest, and uploaded where
    the store uploads) with its line count."""
    key = run.key("indexes", CDXJ_NAME)
    out = run.store.local_path(key)
    index = write_cdxj(warcs, out) if lines is None else lines.write(warcs, out)
    with index.open(encoding="utf-8") as handle:
        run.persist(key, index, sum(1 for _ in handle))
    return index


def cdxj_entries(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(urlkey, timestamp, fields) of each CDXJ line."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                urlkey, timestamp, fields = line.rstrip("\n").split(" ", 2)
                yield urlkey, timestamp, json.loads(fields)


# A page is what ReplayWeb.page lists: an HTML document a run fetched (2xx), as a response
# record or as a revisit of one (a run of revisits only has its pages too).
PAGE_TYPES = ("text/html", "application/xhtml+xml")
PAGES_TITLE = "Pages"


@dataclass
class RunCaptures:
    """What one read of a run's WARC files finds for its WACZ."""

    record_ids: set[str] = field(default_factory=set)  # every record of these files
    revisited: dict[tuple[str, str], str] = field(default_factory=dict)  # (URL, digest) -> id
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)  # record id -> page


def scan_captures(warcs: Iterable[Path]) -> RunCaptures:
    """Record ids, revisits' originals and pages of the WARC files (headers only)."""
    found = RunCaptures()
    for warc in warcs:
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                headers = record.rec_headers
                record_id = headers.get_header("WARC-Record-ID") or ""
                found.record_ids.add(record_id)
                if record.rec_type == "revisit":
                    key = (headers.get_header("WARC-Refers-To-Target-URI") or "",
                           headers.get_header("WARC-Payload-Digest") or "")  # fmt: skip
                    found.revisited[key] = headers.get_header("WARC-Refers-To") or ""
                http = record.http_headers
                if record.rec_type in ("response", "revisit") and http is not None:
                    if not (http.get_statuscode() or "").startswith("2"):
                        continue  # redirects, errors, 304s: nothing to show as a page
                    mime = (http.get_header("Content-Type") or "").split(";")[0].strip().lower()
                    found.pages[record_id] = {
                        "id": record_id.removeprefix("<urn:uuid:").rstrip(">"),
                        "url": headers.get_header("WARC-Target-URI"),
                        "ts": headers.get_header("WARC-Date"),
                        "html": mime in PAGE_TYPES,  # else a page only if it has a text record
                    }
    return found


def pages_jsonl(
    captures: RunCaptures, records: Iterable[dict[str, Any]], out: Path, title: str
) -> Path:
    """WACZ pages/pages.jsonl as ReplayWeb.page reads it: a header line, then one line a page
    (`url`, ISO `ts`, `title` and `text` from the text record when the page is an article).
    Every HTML capture of the run is a page, revisits included; a text record names its
    capture (the revisit, when the payload lies elsewhere)."""
    pages = dict(captures.pages)
    records = iter(records)  # streamed: a run's texts are never all in memory
    first = next(records, None)
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    with out.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(header | ({"hasText": True} if first else {})) + "\n")
        for record in itertools.chain([first] if first else [], records):
            capture_id = record.get("revisit_record_id") or record.get("warc_record_id")
            capture = pages.pop(capture_id or "", None)
            if capture is None:
                continue  # its capture is not in these files (cut off by a crash): no replay
            page = {"id": record["id"], "url": capture["url"], "ts": capture["ts"]}
            known = {"title": record.get("title"), "text": record.get("text")}
            page.update((key, value) for key, value in known.items() if value)
            handle.write(json.dumps(page, ensure_ascii=False) + "\n")
        for capture in sorted((p for p in pages.values() if p["html"]), key=lambda p: p["ts"]):
            page = {k: capture[k] for k in ("id", "url", "ts")}  # no title known: none given
            handle.write(json.dumps(page, ensure_ascii=False) + "\n")
    return out


def write_run_wacz(run_dir: Path) -> Path:
    """`<run_dir>/<run_id>.wacz` from the run's finished WARCs and text records, with copies of
    the original responses its revisit records refer to in earlier runs: a WACZ replays alone."""
    from pipelines.run import MANIFEST_NAME, current_text_folder
    from pipelines.text import read_text_records

    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    title = f"{run_dir.parent.name} crawl {run_dir.name}"
    manifest_path = run_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    records = read_text_records(run_dir / current_text_folder(manifest))  # the current version
    captures = scan_captures(warcs)
    with tempfile.TemporaryDirectory() as tmp:
        originals = copy_foreign_originals(captures, run_dir, Path(tmp) / ORIGINALS_NAME)
        extra = [originals] if originals is not None else []
        out = run_dir / f"{run_dir.name}.wacz"
        return write_wacz([*warcs, *extra], captures, records, out, title)


ORIGINALS_NAME = "originals.warc.gz"


def copy_foreign_originals(captures: RunCaptures, run_dir: Path, out: Path) -> Path | None:
    """Copy, byte for byte, each response that a revisit record of the run's WARCs (scanned
    into ``captures``) refers to and that lies in another run of the same spider (found by URL
    and payload digest in that run's CDXJ) into the WARC ``out``; None when every revisit's
    original is in the run's WARCs already."""
    own = captures.record_ids
    missing = {key for key, record_id in captures.revisited.items() if record_id not in own}
    if not missing:
        return None
    copied = 0
    with out.open("wb") as sink:
        for other in sorted(p for p in run_dir.parent.iterdir() if p.is_dir() and p != run_dir):
            index = other / "indexes" / CDXJ_NAME
            if not missing or not index.is_file():
                continue
            for _key, _ts, fields in cdxj_entries(index):
                key = (fields.get("url", ""), fields.get("digest", ""))
                if key in missing and fields.get("mime") != "warc/revisit":
                    with (other / "warc" / fields["filename"]).open("rb") as source:
                        source.seek(int(fields["offset"]))
                        sink.write(source.read(int(fields["length"])))  # one gzip member
                    missing.discard(key)
                    copied += 1
    if missing:
        logger.warning(
            "%s: %d revisit originals not found in earlier runs (deleted?): the WACZ will not"
            " replay those captures alone",
            run_dir.name,
            len(missing),
        )
    return out if copied else None


def write_wacz(
    warcs: Iterable[Path],
    captures: RunCaptures,
    records: Iterable[dict[str, Any]],
    out: Path,
    title: str,
) -> Path:
    """A WACZ of the WARCs with the run's pages (py-wacz builds and hashes it; it takes our
    pages.jsonl as written: py-wacz would drop the file when no page has a text record)."""
    from wacz.main import main as wacz_main  # heavy import (frictionless): only when asked

    paths = sorted(str(p) for p in warcs)
    if not paths:
        raise ValueError(f"no WARC files to package into {out}")
    with tempfile.TemporaryDirectory() as tmp:
        pages = pages_jsonl(captures, records, Path(tmp) / "pages.jsonl", PAGES_TITLE)
        partial = out.with_name(out.name + ".tmp")
        chatter = io.StringIO()  # py-wacz reports progress with print(): keep stdout clean
        with contextlib.redirect_stdout(chatter):
            create = ["create", "-o", str(partial), "-p", str(pages), "--copy-pages"]
            code = wacz_main([*create, "--title", title, *paths])
        logger.debug("wacz create: %s", chatter.getvalue())
    if code not in (0, None) or not partial.is_file():
        raise RuntimeError(f"wacz create failed ({code}) for {out}")
    partial.replace(out)
    return out
