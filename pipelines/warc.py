"""WARC capture: every response as received, with its request, into rotating WARC/1.1 files.

An extension on the `response_downloaded` signal: there the body is still as the server sent
it (before HttpCompressionMiddleware decodes it), and robots.txt, redirects, errors, feeds and
sitemaps pass too, not only the pages that become articles. Where each response landed is put
into `request.meta` for the spider (see crawler.items.CAPTURE_META_KEY).
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from base64 import b32encode
from collections import Counter
from datetime import UTC, datetime
from http.client import responses as http_reasons
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from crawler.distributed import file_name_tag, redis_enabled
from crawler.items import CAPTURE_META_KEY, Article
from crawler.rawcapture import RAW_HEAD_META_KEY, RawHead
from pipelines.index import write_run_index, write_run_wacz
from pipelines.payloads import Original, PayloadIndex
from pipelines.rotating import RotatingFile, RotationLimits
from pipelines.run import run_for
from pipelines.storage import safe_segment

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
    from crawler.extensions import state_path

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
    """Status line and headers as received (crawler.rawcapture keeps the raw lines: reason
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
        self.writer: WARCWriter | None = None
        self.warcinfo_id: str | None = None
        self.files = RotatingFile(
            self.run,
            self._key,
            RotationLimits(
                max_bytes=settings.getint("WARC_MAX_SIZE"),
                max_age=settings.getfloat("WARC_MAX_AGE"),
            ),
            on_open=self._start_file,
            on_close=self._finished_file,
        )
        self.dedup = settings.getbool("WARC_DEDUP")
        self.wacz = settings.getbool("WACZ_ENABLED")
        # distributed workers share no local disk: each keeps a private, temporary index
        shared = None if redis_enabled(settings) else payload_index_path(crawler)
        self.payloads = PayloadIndex(shared)
        self.file_counts: Counter[str] = Counter()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureExtension:
        return cls(crawler)

    def _key(self, serial: int) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return self.run.key("warc", f"{self.prefix}-{stamp}-{serial:05d}-{self.name_tag}.warc.gz")

    def warcinfo(self) -> dict[str, str]:
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

    def _start_file(self, handle: BinaryIO, name: str) -> None:
        self.writer = WARCWriter(handle, gzip=True, warc_version="1.1")
        record = self.writer.create_warcinfo_record(name, self.warcinfo())
        self.warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self._write(record)

    def _finished_file(self, path: Path, captures: int) -> dict[str, int]:
        logger.info("WARC closed: %s (%d captures)", path, captures)
        self.crawler.stats.inc_value("archive/warc_files")
        counts, self.file_counts = dict(self.file_counts), Counter()
        return counts  # records by type, for the manifest

    def _count(self, rec_type: str) -> None:
        self.file_counts[rec_type] += 1
        self.crawler.stats.inc_value(f"archive/warc_records/{rec_type}")

    def spider_opened(self) -> None:
        """Earlier runs' payloads, so unchanged pages become revisit records."""
        if not self.dedup:
            return
        spider_dir = self.run.store.local_root / self.run.spider
        self.payloads.sync(sorted(spider_dir.glob("*/")), self.run.run_id)
        logger.info(
            "deduplicating against %d payloads of %d earlier runs (%d read from their CDXJ now)",
            len(self.payloads),
            len(self.payloads.known_runs()),
            self.payloads.loaded_runs,
        )

    def _write(self, record: Any) -> None:
        self.writer.write_record(record)  # type: ignore[union-attr]
        self._count(record.rec_type)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        fetched = datetime.now(UTC)
        handle = self.files.stream()
        assert self.writer is not None and self.warcinfo_id is not None
        uri, date = target_uri(response.url), warc_date(fetched)
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": self.warcinfo_id}
        response_headers = dict(common)
        if response.ip_address is not None:
            response_headers["WARC-IP-Address"] = str(response.ip_address)
        body = response.body
        head = response_head(response, request.meta.pop(RAW_HEAD_META_KEY, None))
        digest = payload_digest(body)
        original = self.payloads.get(digest) if self.dedup and response.status == 200 else None
        if original is not None:
            capture = self.writer.create_revisit_record(
                uri, digest, original.uri, original.date,
                http_headers=head, warc_headers_dict=response_headers,
            )  # fmt: skip
            if original.record_id:  # warcio leaves it out; it lets tools find the original
                capture.rec_headers.add_header("WARC-Refers-To", original.record_id)
            self.crawler.stats.inc_value("archive/revisit_bytes_saved", len(body))
        else:
            capture = self.writer.create_warc_record(
                uri,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=head,
                warc_headers_dict={**response_headers, "WARC-Payload-Digest": digest},
            )
        record_id = capture.rec_headers.get_header("WARC-Record-ID")
        offset = handle.tell()
        here = Original(uri, date, record_id, self.run.run_id, self.files.name, offset)
        if original is None and response.status == 200 and body:
            self.payloads.add(digest, here)
        request_record = self.writer.create_warc_record(
            uri,
            "request",
            payload=BytesIO(request.body),
            length=len(request.body),
            http_headers=request_head(request),
            warc_headers_dict={**common, "WARC-Concurrent-To": record_id},
        )
        self._write(capture)
        self._write(request_record)
        self.files.record_written()
        # Text and conversion records point at the record holding the payload: for a revisit,
        # the original response (in this run or an earlier one), the revisit's id kept beside.
        holder = original if original is not None and original.filename else here
        request.meta[CAPTURE_META_KEY] = {
            "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "warc_run_id": holder.run_id,
            "warc_filename": holder.filename,
            "warc_record_id": holder.record_id,
            "warc_offset": holder.offset,
            "revisit_record_id": record_id if holder is not here else None,
        }

    def item_scraped(self, item: object) -> None:
        """The article's text (WET-style conversion) and metadata, beside its capture."""
        if not isinstance(item, Article) or not item.warc_record_id:
            return
        self.files.stream()
        assert self.writer is not None and self.warcinfo_id is not None
        headers = {
            "WARC-Date": warc_date(datetime.now(UTC)),
            "WARC-Warcinfo-ID": self.warcinfo_id,
            "WARC-Refers-To": item.warc_record_id,
        }
        text = item.text.encode("utf-8")
        meta = {k: v for k, v in item.to_record().items() if k != "text"}
        meta_bytes = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
        # urn: target URIs (Browsertrix's "urn:text:" convention): replay tools index these
        # records too, and under the page's own URL they would be replayed instead of it.
        url = target_uri(item.url)
        for rec_type, uri, payload, content_type in (
            ("conversion", f"urn:text:{url}", text, "text/plain; charset=utf-8"),
            ("metadata", f"urn:metadata:{url}", meta_bytes, "application/json"),
        ):
            record = self.writer.create_warc_record(
                uri,
                rec_type,
                payload=BytesIO(payload),
                length=len(payload),
                warc_content_type=content_type,
                warc_headers_dict=headers,
            )
            self._write(record)
        self.files.record_written()

    def spider_closed(self) -> None:
        self.files.close()
        self.payloads.commit_run(self.run.run_id)  # its files are whole: its payloads count
        self.payloads.close()
        warc_dir = self.run.store.local_root / self.run.prefix / "warc"
        warcs = sorted(warc_dir.glob("*.warc.gz"))
        write_run_index(self.run, warcs)
        if self.wacz and warcs:
            self.write_wacz()

    def write_wacz(self) -> None:
        out = write_run_wacz(self.run.store.local_root / self.run.prefix)
        self.run.persist(self.run.key(None, out.name), out)
        logger.info("WACZ written: %s", out)
