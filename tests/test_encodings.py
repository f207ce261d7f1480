"""Content codings in the archive (#13): we advertise only codings whose records every archive
tool reads, and a Brotli or zstd response a server sends unasked is still archived as sent,
decoded for the extractor, and read by the tools.

warcio 1.8 with Google's `brotli` (the one Scrapy requires) dies on any `Content-Encoding: br`
record (`'brotli.Decompressor' object has no attribute 'unused_data'`); pywb cannot decode zstd
and replays its bytes as the page. See crawler/net/encodings.py.

Real components only: a server on 127.0.0.1 that compresses with `brotli` and `zstd`, the
`scrapy crawl news` CLI, and the tools' own command lines (warcio, cdxj-indexer, wacz, and the
warcio of the pywb virtualenv, which has brotlipy as pywb requires).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli
import pytest
from backports import zstd
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader

import crawler.net.encodings
from crawler.net.encodings import WarcioBrotliDecompressor
from pipelines.index import write_run_wacz
from tests.conftest import PROJECT_ROOT, text_records
from tests.test_hostile import Crawl, HostileSite, Page, _Handler, article, crawl, home

ADVERTISED = "gzip, deflate"  # settings.py DEFAULT_REQUEST_HEADERS["Accept-Encoding"]
BIN = Path(sys.executable).parent
PYWB_BIN = PROJECT_ROOT / ".venv-pywb" / "bin"
STORIES = {
    "/news/br-story/": ("br", "Ferry timetable changes from Monday"),
    "/news/zstd-story/": ("zstd", "Lighthouse repairs begin in spring"),
}
COMPRESS = {
    "br": brotli.compress,
    "zstd": zstd.compress,
    "gzip": lambda body: gzip.compress(body, mtime=0),
    "identity": lambda body: body,
}


# --- a site that negotiates Content-Encoding (or ignores Accept-Encoding) ----------------------


class _Negotiating(_Handler):
    def do_GET(self) -> None:
        site: EncodingSite = self.server.site  # type: ignore[assignment]
        accepted = self.headers.get("Accept-Encoding")
        with site.lock:
            site.accept_encodings.append(accepted)
        offers = site.variants.get(self.path)
        if offers:
            coding = next((c for c in offers if c == "identity" or c in codings(accepted)), None)
            if site.honour_accept and coding is not None:
                body, headers = offers[coding], {"Vary": "Accept-Encoding"}
            else:
                coding = next(iter(offers))  # the server's favourite, asked for or not
                body, headers = offers[coding], {}
            if coding != "identity":
                headers["Content-Encoding"] = coding
            site.sent[self.path] = (coding, body)
            site.pages[self.path] = Page(body, headers=headers)
        super().do_GET()


def codings(accept_encoding: str | None) -> set[str]:
    """The codings an Accept-Encoding value allows (those without q=0)."""
    allowed = set()
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().lower().partition(";")
        if name and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            allowed.add(name)
    return allowed


class EncodingSite(HostileSite):
    """`variants`: path -> {coding: body}, in the server's order of preference."""

    def __init__(self, honour_accept: bool) -> None:
        super().__init__()
        self.httpd.RequestHandlerClass = _Negotiating
        self.honour_accept = honour_accept
        self.variants: dict[str, dict[str, bytes]] = {}
        self.accept_encodings: list[str | None] = []
        self.sent: dict[str, tuple[str, bytes]] = {}  # path -> (coding, body) last sent


def serve_stories(site: EncodingSite) -> None:
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
    site.pages["/"] = home(*STORIES)
    site.pages["/news/good-story/"] = Page(article("Harbour board publishes its figures").encode())
    for path, (favourite, title) in STORIES.items():
        page = article(title).encode()
        site.variants[path] = {c: COMPRESS[c](page) for c in (favourite, "gzip", "identity")}


# --- reading the run back ---------------------------------------------------------------------


@dataclass
class Record:
    rec_type: str
    uri: str
    http: dict[str, str]  # HTTP headers, names lower-cased
    raw: bytes  # the payload as stored
    content: bytes  # warcio's content_stream(): content coding removed when warcio knows it


def read_run(run_dir: Path) -> tuple[Path, list[Record]]:
    (warc,) = sorted((run_dir / "warc").glob("*.warc.gz"))
    found = []
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            headers = record.http_headers.headers if record.http_headers else []
            http = {name.lower(): value for name, value in headers}
            raw = record.raw_stream.read()
            found.append(Record(record.rec_type, uri, http, raw, b""))
    with warc.open("rb") as handle:  # a second pass: content_stream() decodes from the start
        for entry, record in zip(found, ArchiveIterator(handle), strict=True):
            entry.content = record.content_stream().read()
    return warc, found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def assert_tools_read(warc: Path, records: list[Record]) -> None:
    """warcio check / index and cdxj-indexer, as command lines, on the run's WARC: the stock
    `.venv/bin/warcio`, which reads br records through the .pth hook `make install` writes
    (crawler/net/warcio_hook.py)."""
    checked = run(BIN / "warcio", "check", "-v", warc)
    assert checked.returncode == 0, (checked.stdout[-3000:], checked.stderr[-3000:])
    assert "digest failed" not in checked.stdout
    assert checked.stdout.count("digest pass") >= len(records) - 1  # the revisit is not checked

    indexed = run(BIN / "warcio", "index", "-f", "warc-type,warc-target-uri,offset", warc)
    assert indexed.returncode == 0, indexed.stderr[-3000:]
    lines = [json.loads(line) for line in indexed.stdout.splitlines()]
    assert [(x["warc-type"], x.get("warc-target-uri", "")) for x in lines] == [
        (r.rec_type, r.uri) for r in records
    ]

    cdxj = run(BIN / "cdxj-indexer", "--sort", warc)
    assert cdxj.returncode == 0, cdxj.stderr[-3000:]
    assert "pkg_resources" not in cdxj.stderr  # py3amf's warning, silenced by the hook (#24)
    for path in ("/news/br-story/", "/news/zstd-story/", "/news/good-story/"):
        assert f'{path}", "mime": "text/html", "status": "200"' in cdxj.stdout, cdxj.stdout


def assert_articles_extracted(done: Crawl) -> None:
    assert done.stored() == {"/news/good-story/", *STORIES}
    texts = {r["url"].rsplit(":", 1)[1].split("/", 1)[1]: r for r in text_records(done.run_dir)}
    for path, (_, title) in STORIES.items():
        record = texts[path.lstrip("/")]
        assert record["title"] == title
        assert "harbour board met on Tuesday" in record["text"]


def assert_requests_advertise(records: list[Record], site: EncodingSite) -> None:
    requests = [r for r in records if r.rec_type == "request"]
    assert requests and len(requests) == len(site.accept_encodings)
    assert {r.http.get("accept-encoding") for r in requests} == {ADVERTISED}
    assert set(site.accept_encodings) == {ADVERTISED}  # what went over the wire, robots.txt too


# --- the tests --------------------------------------------------------------------------------


def crawl_stories(tmp_path: Path, honour_accept: bool) -> tuple[Any, Any, Path, list[Any], dict]:
    """Crawl the stories; (site, crawl, WARC, its records, responses by path), the request
    records already checked to advertise only our codings."""
    with EncodingSite(honour_accept=honour_accept) as site:
        serve_stories(site)
        done = crawl(site, tmp_path)
    warc, records = read_run(done.run_dir)
    assert_requests_advertise(records, site)
    responses = {r.uri.split(str(site.port), 1)[1]: r for r in records if r.rec_type == "response"}
    return site, done, warc, records, responses


def test_a_negotiating_server_sends_only_codings_we_advertise(tmp_path: Path) -> None:
    site, done, warc, records, responses = crawl_stories(tmp_path, honour_accept=True)
    for path in STORIES:
        # it would have sent br / zstd to Scrapy's default `gzip, deflate, br, zstd`
        assert site.sent[path][0] == "gzip"
        assert responses[path].http["content-encoding"] == "gzip"
        assert responses[path].raw == site.sent[path][1]  # stored as sent
    codings_stored = {r.http.get("content-encoding") for r in records if r.rec_type == "response"}
    assert codings_stored == {None, "gzip"}
    assert_tools_read(warc, records)
    assert_articles_extracted(done)


def test_br_and_zstd_sent_unasked_are_archived_as_sent_and_read(tmp_path: Path) -> None:
    site, done, warc, records, responses = crawl_stories(tmp_path, honour_accept=False)
    for path, (coding, _) in STORIES.items():
        assert site.sent[path][0] == coding
        stored = responses[path]
        assert stored.http["content-encoding"] == coding
        assert stored.raw == site.sent[path][1]  # the payload exactly as the server sent it
    # warcio decodes br (with crawler.net.encodings loaded, as in our own code); zstd it does not
    # know, so it hands the stored bytes on unchanged
    br_page = responses["/news/br-story/"].content
    assert br_page == article(STORIES["/news/br-story/"][1]).encode()
    assert responses["/news/zstd-story/"].content == site.sent["/news/zstd-story/"][1]

    assert_tools_read(warc, records)
    assert_articles_extracted(done)
    # without our hook warcio still reads every record: whatever its own br support is
    # (1.8.1 crashed on Google's brotli, 1.8.2 registers br only through brotlicffi), the
    # record passes `check` and is handed on decoded or exactly as stored, never garbled
    unhooked = run(
        sys.executable, "-c",
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "
        "'WarcioBrotliFinder']; from warcio.cli import main; main(sys.argv[1:])",
        "check", "-v", warc,
    )  # fmt: skip
    assert unhooked.returncode == 0, unhooked.stderr[-3000:]
    assert "Traceback" not in unhooked.stderr, unhooked.stderr[-3000:]
    stock = run(
        sys.executable, "-c",
        "import hashlib, sys; sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "
        "'WarcioBrotliFinder']\n"
        "from warcio.archiveiterator import ArchiveIterator\n"
        "for r in ArchiveIterator(open(sys.argv[1], 'rb')):\n"
        "    if r.rec_type == 'response' and 'br-story' in r.rec_headers['WARC-Target-URI']:\n"
        "        print(hashlib.sha256(r.content_stream().read()).hexdigest())",
        warc,
    )  # fmt: skip
    assert stock.returncode == 0, stock.stderr[-3000:]
    either = {hashlib.sha256(b).hexdigest() for b in (br_page, site.sent["/news/br-story/"][1])}
    assert stock.stdout.split() and set(stock.stdout.split()) <= either, stock.stdout

    # stock cdxj-indexer -p (pywb's POST lookup) and py-wacz read every payload through warcio
    appended = run(BIN / "cdxj-indexer", "-p", warc)
    assert appended.returncode == 0 and "/news/br-story/" in appended.stdout, appended.stderr
    wacz = write_run_wacz(done.run_dir)
    validated = run(BIN / "wacz", "validate", "-f", wacz)
    assert validated.returncode == 0, (validated.stdout[-2000:], validated.stderr[-2000:])
    assert "pkg_resources" not in validated.stderr

    # pywb's own warcio (brotlipy, which pywb requires) reads the br record as it is
    assert (PYWB_BIN / "warcio").exists(), "pywb missing: `make install-test` makes .venv-pywb"
    pywb_check = run(PYWB_BIN / "warcio", "check", "-v", warc)
    assert pywb_check.returncode == 0, (pywb_check.stdout[-3000:], pywb_check.stderr[-3000:])


# --- the decompressor warcio gets --------------------------------------------------------------


def test_warcio_gets_a_working_brotli_decompressor() -> None:
    assert crawler.net.encodings.install()  # idempotent; True: ours is the one in use
    assert BufferedReader.DECOMPRESSORS["br"] is WarcioBrotliDecompressor
    page = b"".join(article(f"Story {i}").encode() for i in range(200))  # ~1 MB, 16 KiB reads
    compressed = brotli.compress(page, quality=5)
    stream = BufferedReader(_Reader(compressed), decomp_type="br")
    assert stream.read() == page
    stream.close()
    # not Brotli at all although labelled so: warcio falls back to the bytes as stored
    assert BufferedReader(_Reader(b"<html>plain</html>"), decomp_type="br").read() == (
        b"<html>plain</html>"
    )


def test_a_brotli_bomb_is_refused_not_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crawler.net.encodings, "MAX_OUTPUT_PER_BLOCK", 4 * 1024 * 1024)
    bomb = brotli.compress(b"\0" * (5 * 1024 * 1024), quality=1)
    assert len(bomb) < 4096
    with pytest.raises(brotli.error, match="over"):
        WarcioBrotliDecompressor().decompress(bomb)
    # in a record warcio then hands on the stored bytes, as for any body it cannot decode
    assert BufferedReader(_Reader(bomb), decomp_type="br").read() == bomb


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos : end], min(end, len(self.data))
        return chunk

    def close(self) -> None:
        pass
