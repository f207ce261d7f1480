"""The WARC capture extension, fed real Scrapy requests/responses, read back with warcio."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import time
from base64 import b32encode
from pathlib import Path

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler.items import CAPTURE_META_KEY
from pipelines.warc import WarcCaptureExtension


class DemoSpider(Spider):
    name = "news"


def make_extension(tmp_path: Path, **settings: object) -> WarcCaptureExtension:
    base = {"ARCHIVE_URI": str(tmp_path), "ARCHIVE_RUN_ID": "run-1", "WARC_PREFIX": "test"}
    crawler = get_crawler(DemoSpider, {**base, **settings})
    return WarcCaptureExtension.from_crawler(crawler)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode()


def capture(ext: WarcCaptureExtension, url: str, body: bytes, **headers: str) -> Request:
    request = Request(
        url,
        headers={
            "Authorization": "Basic c2VjcmV0OnNlY3JldA==",
            "Cookie": "session=secret-cookie",
            "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
            "Accept-Encoding": "gzip",
            "User-Agent": "newsarchiver-test",
        },
    )
    response = HtmlResponse(
        url, status=200, headers=headers, body=body, request=request, protocol="HTTP/1.1"
    )
    ext.response_downloaded(response, request, DemoSpider())
    return request


def records(path: Path) -> list:
    with path.open("rb") as handle:
        return [
            (r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read())
            for r in ArchiveIterator(handle)
        ]


def warcio_check(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_body_as_received_digests_and_redaction(tmp_path: Path) -> None:
    ext = make_extension(tmp_path)
    html = b"<html><body><p>" + b"News text. " * 200 + b"</p></body></html>"
    wire = gzip.compress(html)
    request = capture(
        ext,
        "http://reader:pa55@news.example.org/world/story.html?id=7",
        wire,
        **{"Content-Encoding": "gzip", "Content-Length": "99999", "Transfer-Encoding": "chunked"},
    )
    ext.spider_closed()
    (warc,) = (tmp_path / "news/run-1/warc").glob("*.warc.gz")
    assert not list(tmp_path.rglob("*.open"))
    assert warc.name.startswith("test-") and warc.name.endswith(".warc.gz")
    warcio_check(warc)
    recs = records(warc)
    assert [r[0] for r in recs] == ["warcinfo", "response", "request"]
    assert b"redacted-request-headers: Authorization, Proxy-Authorization, Cookie" in recs[0][3]
    _, resp_headers, resp_http, resp_body = recs[1]
    assert resp_body == wire  # gzip bytes as the server sent them, not Scrapy's decoded body
    assert resp_headers["WARC-Payload-Digest"] == sha1_b32(wire)
    assert resp_http["Content-Encoding"] == "gzip"
    assert resp_http["Content-Length"] == str(len(wire))
    assert resp_http["Transfer-Encoding"] is None
    assert resp_http["X-Archive-Orig-Transfer-Encoding"] == "chunked"
    assert resp_headers["WARC-Target-URI"] == "http://news.example.org/world/story.html?id=7"
    _, req_headers, req_http, _ = recs[2]
    assert req_headers["WARC-Concurrent-To"] == resp_headers["WARC-Record-ID"]
    assert req_headers["WARC-Date"] == resp_headers["WARC-Date"]
    assert req_headers["WARC-Warcinfo-ID"] == recs[0][1]["WARC-Record-ID"]
    assert (req_http.protocol, req_http.statusline) == ("GET", "/world/story.html?id=7 HTTP/1.1")
    assert req_http["Host"] == "news.example.org"
    raw = warc.read_bytes()
    for secret in (b"c2VjcmV0", b"secret-cookie", b"cHJveHk6", b"pa55"):
        assert secret not in gzip.decompress(raw)
    pointer = request.meta[CAPTURE_META_KEY]
    assert pointer["warc_filename"] == warc.name
    assert pointer["warc_record_id"] == resp_headers["WARC-Record-ID"]
    with warc.open("rb") as handle:
        handle.seek(pointer["warc_offset"])
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers["WARC-Record-ID"] == pointer["warc_record_id"]


def test_rotation_by_size_writes_complete_files(tmp_path: Path) -> None:
    ext = make_extension(tmp_path, WARC_MAX_SIZE=20_000)
    pointers = []
    for i in range(12):
        body = f"<html><body>{i} ".encode() + os.urandom(10_000) + b"</body></html>"
        pointers.append(capture(ext, f"https://news.example.org/{i}.html", body).meta)
    ext.spider_closed()
    warcs = sorted((tmp_path / "news/run-1/warc").glob("*.warc.gz"))
    assert len(warcs) >= 3
    assert not list(tmp_path.rglob("*.open"))
    serials = [w.name.split("-")[2] for w in warcs]
    assert serials == [f"{n:05d}" for n in range(1, len(warcs) + 1)]
    responses = 0
    for warc in warcs:
        warcio_check(warc)
        recs = records(warc)
        assert recs[0][0] == "warcinfo"
        assert recs[0][1]["WARC-Filename"] == warc.name
        responses += sum(1 for r in recs if r[0] == "response")
    assert responses == 12
    assert {m[CAPTURE_META_KEY]["warc_filename"] for m in pointers} == {w.name for w in warcs}


@pytest.mark.parametrize("bad_name", ["../../escape", "/etc"])
def test_spider_name_cannot_escape_the_archive_root(tmp_path: Path, bad_name: str) -> None:
    class Evil(Spider):
        name = bad_name

    root = tmp_path / "archive"
    crawler = get_crawler(Evil, {"ARCHIVE_URI": str(root), "ARCHIVE_RUN_ID": "../up"})
    ext = WarcCaptureExtension.from_crawler(crawler)
    request = Request("https://news.example.org/")
    ext.response_downloaded(HtmlResponse(request.url, body=b"<html></html>"), request, Evil())
    ext.spider_closed()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(root.resolve()) for p in written)


def test_rotation_by_age(tmp_path: Path) -> None:
    ext = make_extension(tmp_path, WARC_MAX_AGE=0.2)
    capture(ext, "https://news.example.org/1.html", b"<html>one</html>")
    capture(ext, "https://news.example.org/2.html", b"<html>two</html>")  # same file: young
    time.sleep(0.3)
    capture(ext, "https://news.example.org/3.html", b"<html>three</html>")  # too old: new file
    ext.spider_closed()
    warcs = sorted((tmp_path / "news/run-1/warc").glob("*.warc.gz"))
    counts = [sum(1 for r in records(w) if r[0] == "response") for w in warcs]
    assert counts == [2, 1]
