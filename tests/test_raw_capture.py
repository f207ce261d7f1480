"""Status line and headers archived exactly as a real server sent them (crawler/net/rawcapture.py):
reason phrase, header case, order and repeats, and the connection-control headers Twisted takes
out (kept as X-Archive-Orig-* where the stored body no longer matches them). The server here
writes raw bytes on a socket: chunked transfer coding, custom reason phrases."""

from __future__ import annotations

import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FAST, scrapy

PARAGRAPH = (
    "<p>The harbour board met on Tuesday to discuss the ferry timetable, a question that has "
    "divided the town's councillors and shop owners for most of the past decade.</p>"
)
PAGE = (
    "<html lang='en'><head><title>Ferry timetable</title></head><body><article>"
    f"<h1>Ferry timetable</h1>{PARAGRAPH * 6}</article></body></html>"
).encode()


def chunked(body: bytes, size: int = 100) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


RESPONSES = {
    b"/robots.txt": b"HTTP/1.1 404 Not Here\r\nContent-Length: 0\r\n\r\n",
    b"/news/2026/ferry-timetable-to-change/": (
        b"HTTP/1.1 200 Everything Is Fine\r\n"
        b"content-type: text/html; charset=utf-8\r\n"
        b"X-Lower-Case: kept\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunked(PAGE)
    ),
    b"/custom-status/": (
        b"HTTP/1.1 299 Custom Status\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\nok"
    ),
}


class RawHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # the request's headers
        path = request_line.split(b" ")[1] if b" " in request_line else b"/"
        missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        self.wfile.write(RESPONSES.get(path, missing))


@pytest.fixture
def raw_server() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RawHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_status_line_and_headers_as_received(raw_server: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    seeds = f"{raw_server}/news/2026/ferry-timetable-to-change/,{raw_server}/custom-status/"
    result = scrapy(
        "crawl", "news", "-a", f"urls={seeds}", "-s", f"ARCHIVE_URI={archive}",
        "-s", "ARCHIVE_RUN_ID=raw", "-s", "HTTPERROR_ALLOW_ALL=True", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (warc,) = (archive / "news" / "raw" / "warc").glob("*.warc.gz")
    responses = {}
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                body = record.content_stream().read()
                responses[record.rec_headers["WARC-Target-URI"]] = (record.http_headers, body)

    head, body = responses[f"{raw_server}/news/2026/ferry-timetable-to-change/"]
    assert head.protocol == "HTTP/1.1"
    assert head.statusline == "200 Everything Is Fine"
    assert body == PAGE  # the chunked coding undone: the stored body is the entity
    names = [name for name, _ in head.headers]
    # as received: case, order and repeats; Transfer-Encoding no longer matches the stored
    # body, so it is kept under another name; Content-Length is true to the stored body
    assert names == [
        "content-type", "X-Lower-Case", "Set-Cookie", "Set-Cookie",
        "X-Archive-Orig-Transfer-Encoding", "Connection", "Content-Length",
    ]  # fmt: skip
    assert head.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert head.get_header("Content-Length") == str(len(PAGE))
    custom, _ = responses[f"{raw_server}/custom-status/"]
    assert custom.statusline == "299 Custom Status"
    assert custom.get_header("Content-Length") == "2"  # true already: kept as sent
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(warc)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout
