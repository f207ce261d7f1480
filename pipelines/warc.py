"""WARC capture: every response as received, with its request, into rotating WARC/1.1 files.

An extension on the `response_downloaded` signal: there the body is still as the server sent
it (before HttpCompressionMiddleware decodes it), and robots.txt, redirects, errors, feeds and
sitemaps pass too, not only the pages that become articles. The reactor builds the records;
one thread digests, compresses and writes them, and makes the CDXJ lines (pipelines.warc_writer).
Where each response landed is put into `request.meta` for the spider (see
crawler.items.CAPTURE_META_KEY). A failed write (a full disk) stops the crawl
(pipelines.storage.storage_failed); the file ends on its last whole record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from base64 import b32encode
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from http.client import responses as http_reasons
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.internet.defer import Deferred, succeed
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

from crawler.frontier.distributed import file_name_tag
from crawler.items import CAPTURE_META_KEY, Article
from crawler.net.rawcapture import RAW_HEAD_META_KEY, RawHead
from crawler.storage_base import STORAGE_ERRORS, safe_segment, storage_broken, storage_failed
from pipelines.index import write_run_index, write_run_wacz
from pipelines.payload_originals import Original
from pipelines.payloads import open_payload_index
from pipelines.rotating import RotatingFile, RotationLimits
from pipelines.run import register_text_records_writer, run_for
from pipelines.warc_writer import (
    CapturePointer,
    Placement,
    ReactorMailbox,
    WarcWriterThread,
    WriteJob,
)

logger = logging.getLogger(__name__)

# Request headers that carry credentials: never written to an archive.
REDACTED_REQUEST_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
# Twisted has already undone chunking, so the archived body is not chunked any more; the
# original header is kept under the name pywb uses for rewritten headers.
TRANSFER_HEADERS = frozenset({"transfer-encoding"})


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest form: sha1 in base32, as warcio, pywb and Heritrix write it."""
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode("ascii")


def payload_index_path(crawler: Crawler) -> Path:
    """The archive's persistent payload-digest index, beside the seen-store."""
    from crawler.storage_base import state_path

    return state_path(crawler, "-payloads.sqlite")


def warc_date(moment: datetime) -> str:
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def target_uri(url: str) -> str:
    """The URL without user:password@, which must not reach the archive."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name in headers for value in headers.getlist(name)]


def request_head(request: Request) -> StatusAndHeaders:
    """Request line and headers as sent, credentials removed."""
    parts = urlsplit(request.url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname or ""
    headers = [("Host", f"{host}:{parts.port}" if parts.port else host)]
    for name, value in _header_pairs(request.headers):
        if name.lower() not in REDACTED_REQUEST_HEADERS:
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return StatusAndHeaders(f"{request.method} {path} HTTP/1.1", headers, is_http_request=True)


def response_head(response: Response, raw: RawHead | None = None) -> StatusAndHeaders:
    """Status line and headers as received (crawler.net.rawcapture keeps the raw lines: reason
    phrase, case, order, repeats, connection-control headers). Headers that no longer match
    the stored body are kept as `X-Archive-Orig-*` (as warcprox and Browsertrix do):
    Transfer-Encoding (the body is stored de-chunked) and a Content-Length that differs from
    the stored body's, which is then given true."""
    if raw is not None:
        protocol, status, reason = raw.protocol_status_reason
        pairs = raw.headers()
    else:  # another handler (HTTP/2, data:): Scrapy's view of the headers
        protocol, status = response.protocol or "HTTP/1.1", str(response.status)
        reason = http_reasons.get(response.status, "")
        pairs = [
            (n.decode("latin-1"), v.decode("latin-1")) for n, v in _header_pairs(response.headers)
        ]
    true_length = str(len(response.body))
    headers: list[tuple[str, str]] = []
    length_kept = False
    for key, value in pairs:
        lname = key.lower()
        if lname == "content-length":
            if raw is None:
                continue  # Scrapy's own: not necessarily what was sent
            if value.strip() == true_length and not length_kept:
                length_kept = True
                headers.append((key, value))
                continue
            key = "X-Archive-Orig-" + key
        elif lname in TRANSFER_HEADERS:
            key = "X-Archive-Orig-" + key
        headers.append((key, value))
    if not length_kept:
        headers.append(("Content-Length", true_length))
    return StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol=protocol)


class WarcCaptureExtension:
    """Writes request + response records for every download; one warcinfo per file."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.run = run_for(crawler)
        crawler.stats.set_value("archive/run_id", self.run.run_id)
        crawler.stats.set_value("archive/prefix", self.run.prefix)
        self.prefix = settings.get("WARC_PREFIX", "news")
        self.host = safe_segment(socket.gethostname())  # warcinfo hostname
        # last part of every WARC name: the host, or the worker id (<host>-<pid>) when distributed
        self.name_tag = safe_segment(file_name_tag(settings) or socket.gethostname())
        self.records = RecordBuilder(warc_version="1.1")
        self.dedup = settings.getbool("WARC_DEDUP")
        self.wacz = settings.getbool("WACZ_ENABLED")
        # the archive's SQLite index, or with REDIS_URL the one the workers share in Redis
        index_file = partial(payload_index_path, crawler)  # only called when it is used
        self.payloads = open_payload_index(crawler, self.run.run_id, index_file)
        # new payloads of captures still on their way to the disk: not in the payload index yet
        self.unplaced: dict[str, tuple[Original, Placement]] = {}
        self.mailbox = ReactorMailbox()  # what the writer thread reports
        self.writer = WarcWriterThread(
            RotatingFile(
                self.run,
                self._key,
                RotationLimits(
                    max_bytes=settings.getint("WARC_MAX_SIZE"),
                    max_age=settings.getfloat("WARC_MAX_AGE"),
                ),
                on_close=self._finished_file,
            ),
            warcinfo=self.warcinfo,
            report=self.mailbox.report,
            on_written=self._written,
            on_failed=self._write_failed,
        )
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        register_text_records_writer(crawler, self)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureExtension:
        return cls(crawler)

    def _key(self, serial: int) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return self.run.key("warc", f"{self.prefix}-{stamp}-{serial:05d}-{self.name_tag}.warc.gz")

    def warcinfo(self, name: str = "") -> dict[str, str]:
        settings = self.crawler.settings
        return {
            "software": (
                f"newsarchiver/{version('newsarchiver')} scrapy/{version('scrapy')} "
                f"warcio/{version('warcio')}"
            ),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.run.prefix,
            "hostname": self.host,
            "http-header-user-agent": settings.get("USER_AGENT", ""),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "redacted-request-headers": "Authorization, Proxy-Authorization, Cookie (removed)",
        }

    # --- what the writer thread reports, run in the reactor

    def _finished_file(self, path: Path, captures: int) -> dict[str, int]:
        """In the writer thread: a WARC file closed; its records by type, for the manifest."""
        logger.info("WARC closed: %s (%d captures)", path, captures)
        self.mailbox.report(self.crawler.stats.inc_value, "archive/warc_files")
        return self.writer.take_file_counts()

    def _written(self, job: WriteJob) -> None:
        """A job written (counted, its new payload indexed), or not written (forgotten)."""
        if job.payload is not None:
            digest, original = job.payload
            self.unplaced.pop(digest, None)
            placement = job.placement
            if job.written and placement is not None and not storage_broken(self.crawler):
                here = replace(original, filename=placement.filename, offset=placement.offset)
                try:
                    self.payloads.add(digest, here)
                except STORAGE_ERRORS as exc:
                    storage_failed(self.crawler, payload_index_path(self.crawler), exc)
        if job.written:
            for record in job.records:
                self.crawler.stats.inc_value(f"archive/warc_records/{record.rec_type}")
        if job.on_done is not None:
            job.on_done(job.written)

    def _write_failed(self, path: Path | None, error: BaseException) -> None:
        """Stop the crawl; the writer has cut the file back to its last whole record."""
        storage_failed(self.crawler, path, error)

    def spider_opened(self) -> None:
        """Earlier runs' payloads, so unchanged pages become revisit records."""
        if not self.dedup:
            return
        spider_dir = self.run.store.local_root / self.run.spider
        try:
            self.payloads.sync(sorted(spider_dir.glob("*/")), self.run.run_id)
        except STORAGE_ERRORS as exc:
            storage_failed(self.crawler, payload_index_path(self.crawler), exc)
            return
        logger.info(
            "deduplicating against %d payloads of %d earlier runs (%d read from their CDXJ now)",
            len(self.payloads),
            len(self.payloads.known_runs()),
            self.payloads.loaded_runs,
        )

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        self.mailbox.drain()
        if storage_broken(self.crawler):
            return  # the crawl is stopping: what is still in flight is not archived
        try:
            self.capture(response, request)
        except STORAGE_ERRORS as exc:  # the payload index's disk
            storage_failed(self.crawler, payload_index_path(self.crawler), exc)

    def _original(self, digest: str) -> tuple[Original | None, Placement | None]:
        """The first capture of a payload, and its placement while it is being written."""
        if digest in self.unplaced:
            return self.unplaced[digest]
        return self.payloads.get(digest), None

    def capture(self, response: Response, request: Request) -> None:
        fetched = datetime.now(UTC)
        uri, date = target_uri(response.url), warc_date(fetched)
        # the file's warcinfo id is set by the writer thread, which knows the file
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": ""}
        response_headers = dict(common)
        if response.ip_address is not None:
            response_headers["WARC-IP-Address"] = str(response.ip_address)
        body = response.body
        head = response_head(response, request.meta.pop(RAW_HEAD_META_KEY, None))
        digest = payload_digest(body)
        original, original_placement = (
            self._original(digest) if self.dedup and response.status == 200 else (None, None)
        )
        if original is not None:
            capture = self.records.create_revisit_record(
                uri, digest, original.uri, original.date,
                http_headers=head, warc_headers_dict=response_headers,
            )  # fmt: skip
            if original.record_id:  # warcio leaves it out; it lets tools find the original
                capture.rec_headers.add_header("WARC-Refers-To", original.record_id)
            self.crawler.stats.inc_value("archive/revisit_bytes_saved", len(body))
        else:
            capture = self.records.create_warc_record(
                uri,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=head,
                warc_headers_dict={**response_headers, "WARC-Payload-Digest": digest},
            )
        record_id = capture.rec_headers.get_header("WARC-Record-ID")
        placement = Placement()
        here = Original(uri, date, record_id, self.run.run_id)
        job = WriteJob([capture], placement)
        if original is None and response.status == 200 and body:
            job.payload = (digest, here)
            self.unplaced[digest] = (here, placement)
        job.records.append(
            self.records.create_warc_record(
                uri,
                "request",
                payload=BytesIO(request.body),
                length=len(request.body),
                http_headers=request_head(request),
                warc_headers_dict={**common, "WARC-Concurrent-To": record_id},
            )
        )
        # Text and conversion records point at the record holding the payload: for a revisit,
        # the original response (in this run or an earlier one), the revisit's id kept beside.
        holder, holder_placement = here, placement
        if original is not None and (original.filename or original_placement is not None):
            holder, holder_placement = original, original_placement
        fields: dict[str, Any] = {
            "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "warc_run_id": holder.run_id,
            "warc_record_id": holder.record_id,
            "revisit_record_id": record_id if holder is not here else None,
        }
        if holder_placement is None:  # an original already written
            fields.update(warc_filename=holder.filename, warc_offset=holder.offset)
        request.meta[CAPTURE_META_KEY] = CapturePointer(fields, holder_placement)
        self.writer.submit(job)

    def write_text_records(self, item: Article) -> Deferred[bool]:
        """The article's text (WET-style conversion) and metadata, beside its capture; fires
        in the reactor with whether they were written. The text pipeline writes the text
        record only after they were, so a text record always has them (a full disk between
        the two leaves them without a text record: the article is fetched again)."""
        if not item.warc_record_id:  # no capture to refer to
            return succeed(True)
        self.mailbox.drain()
        if storage_broken(self.crawler):
            return succeed(False)
        written: Deferred[bool] = Deferred()
        self.writer.submit(WriteJob(self.text_records(item), on_done=written.callback))
        return written

    def item_scraped(self, item: object) -> None:
        """write_text_records() without waiting (tests and benchmarks that drive the
        extension without a crawl or a text pipeline)."""
        if isinstance(item, Article):
            self.write_text_records(item)

    def text_records(self, item: Article) -> list[Any]:
        headers = {
            "WARC-Date": warc_date(datetime.now(UTC)),
            "WARC-Warcinfo-ID": "",  # set by the writer thread
            "WARC-Refers-To": item.warc_record_id,
        }
        text = item.text.encode("utf-8")
        meta = {k: v for k, v in item.to_record().items() if k != "text"}
        meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
        # urn: target URIs (Browsertrix's "urn:text:" convention): replay tools index these
        # records too, and under the page's own URL they would be replayed instead of it.
        url = target_uri(item.url)
        return [
            self.records.create_warc_record(
                uri,
                rec_type,
                payload=BytesIO(payload),
                length=len(payload),
                warc_content_type=content_type,
                warc_headers_dict=headers,
            )
            for rec_type, uri, payload, content_type in (
                ("conversion", f"urn:text:{url}", text, "text/plain; charset=utf-8"),
                ("metadata", f"urn:metadata:{url}", meta_bytes, "application/json"),
            )
        ]

    def spider_closed(self) -> None:
        self.writer.close()  # what is queued is written, the last file closed
        self.mailbox.drain()
        try:
            # After a failed write the cut file may lack a capture listed here: the next run
            # reads this run's payloads from its CDXJ instead, as it does a killed run's.
            if not storage_broken(self.crawler):
                self.payloads.commit_run(self.run.run_id)  # its files are whole: they count
        except STORAGE_ERRORS as exc:
            storage_failed(self.crawler, payload_index_path(self.crawler), exc)
        finally:
            self.payloads.close()
        warc_dir = self.run.store.local_root / self.run.prefix / "warc"
        warcs = sorted(warc_dir.glob("*.warc.gz"))
        try:  # after a failed write too: a small file that makes the run replayable
            write_run_index(self.run, warcs, self.writer.index)
        except STORAGE_ERRORS as exc:
            storage_failed(self.crawler, warc_dir.parent / "indexes", exc)
        if self.wacz and warcs and not storage_broken(self.crawler):
            self.write_wacz()

    def write_wacz(self) -> None:
        out = write_run_wacz(self.run.store.local_root / self.run.prefix)
        self.run.persist(self.run.key(None, out.name), out)
        logger.info("WACZ written: %s", out)
