"""HTML pages read back from WARC files, as the spider saw them.

`warc_pages()` reads WARC files and rebuilds, for every `response` record (and every `revisit`
record whose original can be found), the Scrapy response the spider's `parse` was given: the
payload decoded from its Content-Encoding (gzip, deflate, br, as Scrapy's
HttpCompressionMiddleware would), the response class chosen by Scrapy's `responsetypes`, so the
charset comes from the Content-Type header or the page, exactly as `TextResponse.text` reads it.
Only 2xx responses that `crawler.discovery.documents.sniff` calls HTML are pages; the rest are
skipped.
`scrapy extract FILE.warc.gz` prints what the extractor makes of them, and `scrapy corpus
reextract` (corpus.reextract) writes them as a new text version of a run.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed

from crawler.discovery.documents import DocKind, sniff
from crawler.extract.extraction import Extraction, extract
from crawler.items import Article
from pipelines.index import CDXJ_NAME, cdxj_entries

with contextlib.suppress(ImportError):  # warcio's br decoding fixed for Google's brotli (#13)
    import crawler.net.encodings  # noqa: F401

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc.gz", ".warc")
# Headers that describe the stored bytes' coding, gone once the payload is decoded.
CODING_HEADERS = (b"content-encoding", b"transfer-encoding", b"content-length")
PAGES_PER_BATCH = 32  # pages per worker handed to the pool at a time (bounds memory)


def is_warc_path(arg: str) -> bool:
    return arg.lower().endswith(WARC_SUFFIXES)


# --- reading WARC files ------------------------------------------------------------------------


@dataclass
class Page:
    """One HTML response as the spider's `parse` received it, and where it is archived: for a
    revisit, the warc_* fields name the original response holding the payload (as the crawl's
    text records do since #13) and revisit_record_id the revisit itself."""

    response: TextResponse
    fetched_at: str  # WARC-Date to the second, as the crawl records it
    warc_run_id: str | None
    warc_filename: str
    warc_record_id: str
    warc_offset: int
    revisit_record_id: str | None = None

    @property
    def capture(self) -> dict[str, Any]:
        return {
            "status": self.response.status,
            "fetched_at": self.fetched_at,
            "warc_run_id": self.warc_run_id,
            "warc_filename": self.warc_filename,
            "warc_record_id": self.warc_record_id,
            "warc_offset": self.warc_offset,
            "revisit_record_id": self.revisit_record_id,
        }

    def fill(self, article: Article) -> Article:
        """The capture fields set on the article, as the spider sets them."""
        for name, value in self.capture.items():
            if hasattr(article, name):
                setattr(article, name, value)
        return article


def run_id_of(warc: Path) -> str | None:
    """The run a WARC file belongs to, by the archive layout `<spider>/<run_id>/warc/<file>`."""
    return warc.parent.parent.name if warc.parent.name == "warc" else None


@dataclass
class WarcScan:
    """What reading the WARC files found besides the pages."""

    skipped: Counter[str] = field(default_factory=Counter)  # reason -> responses
    unresolved: list[str] = field(default_factory=list)  # revisits without their original
    errors: list[str] = field(default_factory=list)  # unreadable files: one line each


def _digest(value: str | None) -> str:
    return (value or "").removeprefix("sha1:").upper()


def fetched_at_of(warc_date: str) -> str:
    """`2026-11-25T03:13:16.123456Z` -> `2026-11-25T03:13:16Z` (the crawl's fetched_at form)."""
    moment = datetime.fromisoformat(warc_date.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_record_at(path: Path, offset: int) -> tuple[Any, bytes, Path, int] | None:
    """The record at `offset` of a WARC file with its decoded payload (None: unreadable)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
            return record, _payload(record, 0), path, offset
    except (OSError, StopIteration, ArchiveLoadFailed, ValueError) as exc:
        logger.warning("cannot read %s at %d: %s", path, offset, exc)
        return None


class _Decoding(ValueError):
    """A payload that cannot be decoded as Scrapy would (reason in the message)."""


def _payload(record: Any, max_size: int) -> bytes:
    """The HTTP body with transfer and content coding removed (warcio decodes gzip, deflate
    and br, the codings our crawls store); over `max_size` (0 = no limit) is refused, as
    Scrapy refuses a body that inflates beyond DOWNLOAD_MAXSIZE."""
    http = record.http_headers
    coding = (http.get_header("content-encoding") or "").strip().lower() if http else ""
    known = BufferedReader.get_supported_decompressors()
    if coding and coding != "identity" and coding not in known:
        raise _Decoding(f"content_encoding_{re.sub(r'[^a-z0-9]+', '_', coding)}")
    stream = record.content_stream()
    body = stream.read(max_size + 1) if max_size else stream.read()
    if max_size and len(body) > max_size:
        raise _Decoding("over_maxsize")
    return body


def build_response(url: str, status: int, http_headers: Any, body: bytes) -> Any:
    """The response Scrapy would hand to the spider: decoded body, no coding headers, the
    class `responsetypes` picks from headers, URL and body (HtmlResponse, XmlResponse, ...)."""
    headers = Headers()
    for name, value in http_headers.headers if http_headers else []:
        raw = name.encode("latin-1")
        if raw.lower() not in CODING_HEADERS:
            headers.appendlist(raw, value.encode("latin-1"))
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    return cls(url=url, status=status, headers=headers, body=body)


class OriginalFinder:
    """Where the payload of a revisit record is: first in the WARC files being read (by
    WARC-Refers-To, else by payload digest), then in the given earlier runs (by their CDXJ)."""

    def __init__(self, paths: list[Path], other_runs: Iterable[Path] = ()) -> None:
        self.paths = paths
        self.other_runs = list(other_runs)
        self.by_id: dict[str, tuple[Path, int]] = {}
        self.by_digest: dict[str, tuple[Path, int]] = {}
        self._scanned = False
        self._runs_loaded = False

    def note(self, record: Any, path: Path, offset: int) -> None:
        """Remember a response record read in order (originals come before their revisits)."""
        headers = record.rec_headers
        where = (path, offset)
        self.by_id.setdefault(headers.get_header("WARC-Record-ID") or "", where)
        digest = _digest(headers.get_header("WARC-Payload-Digest"))
        if digest and record.http_headers and record.http_headers.get_statuscode() == "200":
            self.by_digest.setdefault(digest, where)

    def _scan_all(self) -> None:
        """Every file's response records (an original may sit in a file given later)."""
        self._scanned = True
        for path in self.paths:
            try:
                with path.open("rb") as handle:
                    iterator = ArchiveIterator(handle)
                    for record in iterator:
                        if record.rec_type == "response":
                            self.note(record, path, iterator.get_record_offset())
            except (OSError, ArchiveLoadFailed) as exc:
                logger.warning("cannot index %s: %s", path, exc)

    def _load_runs(self) -> None:
        self._runs_loaded = True
        for run_dir in self.other_runs:
            index = run_dir / "indexes" / CDXJ_NAME
            if not index.is_file():
                continue
            for _key, _ts, fields in cdxj_entries(index):
                digest = _digest(fields.get("digest"))
                revisit = fields.get("mime") == "warc/revisit"
                if not digest or revisit or fields.get("status") != "200":
                    continue
                where = (run_dir / "warc" / fields["filename"], int(fields["offset"]))
                self.by_digest.setdefault(digest, where)

    def find(self, revisit: Any) -> tuple[Any, bytes, Path, int] | None:
        """The original response record, its decoded payload, its file and offset."""
        headers = revisit.rec_headers
        refers_to = headers.get_header("WARC-Refers-To") or ""
        digest = _digest(headers.get_header("WARC-Payload-Digest"))
        for step in ("read so far", "all files", "other runs"):
            if step == "all files" and not self._scanned:
                self._scan_all()
            elif step == "other runs" and not self._runs_loaded:
                self._load_runs()
            where = self.by_id.get(refers_to) if refers_to else None
            where = where or self.by_digest.get(digest)
            if where is not None:
                found = read_record_at(*where)
                if found is not None and found[0].rec_type == "response":
                    return found
        return None


def warc_pages(
    paths: list[Path],
    scan: WarcScan,
    *,
    max_size: int = 0,
    originals: list[Path] | None = None,
    other_runs: Iterable[Path] = (),
) -> Iterator[Page]:
    """The HTML pages of the WARC files, in file and record order. Non-HTML, non-2xx and
    undecodable responses are counted in `scan.skipped`; revisits whose original is in none
    of `originals` (default: `paths`) nor `other_runs` (run folders with a CDXJ index) in
    `scan.unresolved`."""
    finder = OriginalFinder(originals if originals is not None else paths, other_runs)
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError as exc:
            scan.errors.append(f"cannot read {path}: {exc.strerror or exc}")
            continue
        with handle:
            iterator = ArchiveIterator(handle)
            try:
                for record in iterator:
                    if record.format != "warc":  # warcio reads anything else as ARC lines
                        scan.errors.append(f"{path}: not a WARC file (ARC is not supported)")
                        break
                    if record.rec_type not in ("response", "revisit") or not record.http_headers:
                        continue
                    offset = iterator.offset  # (get_record_offset() would read the payload)
                    page = _page(record, path, offset, finder, scan, max_size)
                    if page is not None:
                        yield page
            except ArchiveLoadFailed as exc:
                scan.errors.append(f"{path}: not a readable WARC file ({exc})")


def _page(
    record: Any, path: Path, offset: int, finder: OriginalFinder, scan: WarcScan, max_size: int
) -> Page | None:
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI") or ""
    try:
        status = int(record.http_headers.get_statuscode())
    except (TypeError, ValueError):
        scan.skipped["bad_status_line"] += 1
        return None
    if not 200 <= status < 300:  # the spider never parses these (HttpErrorMiddleware, 304s)
        scan.skipped[f"status_{status}"] += 1
        return None
    own_id = headers.get_header("WARC-Record-ID")
    holder, holder_id, holder_offset, revisit_id = path, own_id, offset, None
    try:
        if record.rec_type == "response":
            finder.note(record, path, offset)
            http, body = record.http_headers, _payload(record, max_size)
        else:
            found = finder.find(record)
            if found is None:
                scan.skipped["revisit_without_original"] += 1
                scan.unresolved.append(f"{url} ({own_id})")
                return None
            original, body, holder, holder_offset = found
            http, revisit_id = original.http_headers, own_id
            holder_id = original.rec_headers.get_header("WARC-Record-ID")
            if max_size and len(body) > max_size:
                raise _Decoding("over_maxsize")
    except _Decoding as exc:
        scan.skipped[str(exc)] += 1
        return None
    except (OSError, EOFError, ValueError) as exc:  # a corrupt payload (bad gzip, ...)
        logger.warning("undecodable payload skipped: %s in %s at %d: %s", url, path, offset, exc)
        scan.skipped["undecodable"] += 1
        return None
    response = build_response(url, status, http, body)
    if not isinstance(response, TextResponse) or sniff(response) is not DocKind.HTML:
        scan.skipped["not_html"] += 1
        return None
    return Page(
        response,
        fetched_at_of(headers.get_header("WARC-Date")),
        run_id_of(holder),
        holder.name,
        holder_id,
        holder_offset,
        revisit_id,
    )


# --- extraction ---------------------------------------------------------------------------------


def extract_page(page: Page, min_chars: int) -> Extraction:
    """What the spider makes of the page (its `read_page` parses `response.text` the same way)."""
    extraction = extract(
        page.response.text, page.response.url, fetched_at=page.fetched_at, min_chars=min_chars
    )
    if extraction.article is not None:
        page.fill(extraction.article)
    return extraction


def _extract_call(url: str, body: bytes, content_type: bytes | None, min_chars: int,
                  fetched_at: str) -> Extraction:  # fmt: skip
    headers = {b"Content-Type": content_type} if content_type is not None else None
    response = responsetypes.from_args(headers=Headers(headers or {}), url=url, body=body)
    text = response(url=url, body=body, headers=headers).text
    return extract(text, url, fetched_at=fetched_at, min_chars=min_chars)


def extracted(
    pages: Iterable[Page], min_chars: int, processes: int = 0
) -> Iterator[tuple[Page, Extraction]]:
    """Every page with its extraction, in order; in `processes` worker processes (0 = here)."""
    if processes <= 0:
        for page in pages:
            yield page, extract_page(page, min_chars)
        return
    context = multiprocessing.get_context("spawn")  # as crawler.extract.pool: no fork
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        pages = iter(pages)
        while batch := list(islice(pages, PAGES_PER_BATCH * processes)):
            futures = [
                pool.submit(_extract_call, p.response.url, p.response.body,
                            p.response.headers.get(b"Content-Type"), min_chars, p.fetched_at)
                for p in batch
            ]
            for page, future in zip(batch, futures, strict=True):
                extraction = future.result()
                if extraction.article is not None:
                    page.fill(extraction.article)
                yield page, extraction


