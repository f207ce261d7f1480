"""Hostile input (#7): sites on 127.0.0.1 that try to turn the crawler against its own network
(SSRF through links, feed entries, redirects, meta refresh and robots.txt), loop it, flood it
(oversized responses, gzip bombs) or feed it garbage (binary, broken encodings, empty bodies,
truncated XML, XXE). Every crawl is the real `scrapy crawl news` CLI; each must exit 0, store
the site's good article, and say in its log and final stats what it skipped and why.

The allow-list covers only 127.0.0.1/32 (the test site itself), so every other loopback
spelling is refused like any private address would be.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import random
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError
from scrapy.resolver import dnscache
from scrapy.utils.test import get_crawler

from crawler.discovery.documents import canonical
from crawler.net.middlewares import (
    RefusedRequest,
    SSRFGuardMiddleware,
    address_problem,
    literal_address,
    parse_networks,
    resolve,
)
from tests.conftest import scrapy, text_records

# Our site is 127.0.0.1 and only that: 127.0.0.2, ::1 and the rest stay refused.
GUARDED = [
    "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
    "-s", "NEWS_ALLOWED_NETWORKS=127.0.0.1/32", "-s", "DOWNLOAD_TIMEOUT=10",
]  # fmt: skip
NOW = datetime.now(UTC)
# A traceback frame in our code (crawler/net/rawcapture.py is Scrapy's own download handler:
# Scrapy's download errors pass through it as before).
OUR_FRAME = r'File "[^"]*/(crawler|pipelines)/(?!net/rawcapture\.py)'
PARAGRAPH = (
    "The harbour board met on Tuesday to discuss the {topic}, a question that has divided the "
    "town's councillors, fishing families and shop owners for most of the past decade, and "
    "agreed to publish its full figures before the next public meeting in the spring."
)


# --- a programmable site on 127.0.0.1 ---------------------------------------------------------


@dataclass
class Page:
    body: bytes = b""
    ctype: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    sized: bool = True  # False: no Content-Length, the body ends when the connection closes


def html(text: str, ctype: str | None = "text/html; charset=utf-8") -> Page:
    return Page(text.encode(), ctype)


def redirect(location: str, status: int = 302) -> Page:
    return Page(b"", "text/html", status, {"Location": location})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: requests are kept in `HostileSite.requests`."""

    def do_GET(self) -> None:
        site = self.server.site
        with site.lock:
            site.requests.append(self.path)
        page = site.pages.get(self.path) or site.pages.get(urlsplit(self.path).path)
        if page is None:
            page = Page(b"<html><body><h1>Not found</h1></body></html>", status=404)
        try:
            self.send_response(page.status)
            if page.ctype is not None:
                self.send_header("Content-Type", page.ctype)
            for name, value in page.headers.items():
                self.send_header(name, value)
            if page.sized:
                self.send_header("Content-Length", str(len(page.body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(page.body)
        except (BrokenPipeError, ConnectionResetError):  # the crawler hung up (max size)
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: HostileSite

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: the crawler hangs up on oversized bodies, on purpose."""


class HostileSite:
    """Serves `pages` (path -> Page; an exact path with its query first) on 127.0.0.1."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.site = self
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def count(self, prefix: str) -> int:
        return sum(1 for path in self.requests if path.startswith(prefix))


@pytest.fixture
def site() -> Iterator[HostileSite]:
    with HostileSite() as served:
        served.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        served.pages["/news/good-story/"] = html(article("Harbour board publishes its figures"))
        yield served


def article(title: str, extra: str = "", charset: str = "utf-8") -> str:
    paragraphs = "".join(
        "<p>" + PARAGRAPH.format(topic=f"{title.lower()} ({i})") + "</p>" for i in range(6)
    )
    ld = json.dumps({"@type": "NewsArticle", "headline": title,
                     "datePublished": (NOW - timedelta(days=1)).isoformat()})  # fmt: skip
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='{charset}'>"
        f"<title>{title} - Harbour Post</title><meta property='og:type' content='article'>"
        f"<script type='application/ld+json'>{ld}</script></head><body>"
        f"<article><h1>{title}</h1>{paragraphs}{extra}</article></body></html>"
    )


def home(*hrefs: str, head: str = "") -> Page:
    links = "".join(f"<li><a href='{h}'>link {i}</a></li>" for i, h in enumerate(hrefs))
    return html(
        f"<!DOCTYPE html><html><head><title>Harbour Post</title>{head}</head><body>"
        f"<ul><li><a href='/news/good-story/'>Good story</a></li>{links}</ul></body></html>"
    )


def rss(*links: str) -> Page:
    items = "".join(
        f"<item><title>Item {i}</title><link>{escape(link)}</link>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=i + 1))}</pubDate></item>"
        for i, link in enumerate(links)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>{items}'
    return Page((body + "</channel></rss>").encode(), "application/rss+xml")


# --- running a crawl --------------------------------------------------------------------------


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    run_dir: Path

    @property
    def log(self) -> str:
        return self.result.stderr

    def stat(self, name: str) -> int:
        """A counter of the final stats dump (0 when absent)."""
        found = re.search(
            rf"'{re.escape(name)}': (\d+)", self.log.split("Dumping Scrapy stats")[-1]
        )
        return int(found.group(1)) if found else 0

    def stored(self) -> set[str]:
        return {urlsplit(r["url"]).path for r in text_records(self.run_dir)}


def crawl(
    site: HostileSite,
    tmp_path: Path,
    *extra: str,
    seeds: tuple[str, ...] = ("/",),
    scrapy_errors: tuple[str, ...] = (),
) -> Crawl:
    """Crawl the site; `scrapy_errors`: URLs Scrapy itself may log "Error downloading" for."""
    archive = tmp_path / "archive"
    result = scrapy(
        "crawl", "news", "-a", "urls=" + ",".join(site.base + s for s in seeds),
        "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=hostile", *GUARDED, *extra,
        timeout=120,
    )  # fmt: skip
    done = Crawl(result, archive / "news" / "hostile")
    log = done.log
    assert result.returncode == 0, log[-3000:]
    # No exception went through our code, and no callback failed (crawler/net/rawcapture.py is
    # Scrapy's own download handler: Scrapy's download errors pass through it as before)
    assert not re.search(OUR_FRAME, log), log[-5000:]
    for sign in ("Spider error", "Error processing", "Error caught on signal handler"):
        assert sign not in log, log[-5000:]
    errors = re.findall(r"ERROR: Error downloading <GET ([^>]+)>", log)
    assert set(errors) <= set(scrapy_errors), log[-5000:]
    if not scrapy_errors:
        assert "Traceback" not in log, log[-5000:]
    # Every request Scrapy sent reached this site: nothing went to any other address.
    assert done.stat("downloader/request_count") == len(site.requests), site.requests
    return done


def refused(crawl: Crawl, url: str, reason: str) -> bool:
    """The one-line log of a refusal, naming the URL (`url` is a regex) and its stat."""
    line = rf"WARNING: Refused GET {url}: [^\n]* \[news/refused/{reason}\]\n"
    return re.search(line, crawl.log) is not None


# --- SSRF: addresses and schemes, refused before any connection -------------------------------

# name -> (URL, the refusal reason the guard gives)
PRIVATE_TARGETS = {
    "metadata": ("http://169.254.169.254/latest/meta-data/", "link_local"),
    "ten": ("http://10.0.0.1/admin/", "private"),
    "router": ("http://192.168.1.1/", "private"),
    "ipv6-loopback": ("http://[::1]:{port}/", "loopback"),
    "decimal": ("http://2130706434:{port}/", "loopback"),  # 127.0.0.2
    "hex": ("http://0x7f.0.0.2:{port}/", "loopback"),
    "octal": ("http://0177.0.0.2:{port}/", "loopback"),
    "mapped": ("http://[::ffff:a9fe:a9fe]/latest/", "link_local"),  # ::ffff:169.254.169.254
    "unique-local": ("http://[fd00::1]/", "unique_local"),
    "file": ("file:///etc/passwd", "scheme"),
    "data": ("data:text/html,<h1>hello</h1>", "scheme"),
    "ftp": ("ftp://127.0.0.1:{port}/pub/", "scheme"),
}


def test_private_addresses_and_other_schemes_are_refused(site: HostileSite, tmp_path: Path) -> None:
    targets = {n: (u.format(port=site.port), r) for n, (u, r) in PRIVATE_TARGETS.items()}
    # robots.txt advertises a "sitemap" on the cloud metadata service
    site.pages["/robots.txt"] = Page(
        b"User-agent: *\nDisallow:\nSitemap: http://169.254.169.254/latest/meta-data/sm.xml\n",
        "text/plain",
    )
    site.pages["/"] = home(
        *(f"/go/{name}/" for name in targets),  # in-site links that redirect away
        "/refresh/",
        "file://127.0.0.1/etc/passwd",  # in-site by host name: the spider would follow it
        *(url for url, _ in targets.values()),  # off-site: the spider never follows these
    )
    for name, (url, _) in targets.items():
        site.pages[f"/go/{name}/"] = redirect(url)
    refresh_to = "http://169.254.169.254/latest/meta-data/iam/"
    site.pages["/refresh/"] = html(
        f"<html><head><meta http-equiv='refresh' content='0; url={refresh_to}'></head></html>"
    )
    site.pages["/feed.xml"] = rss(
        f"{site.base}/news/feed-story/", *(url for url, _ in targets.values())
    )
    site.pages["/news/feed-story/"] = html(article("Ferry timetable changes from Monday"))

    done = crawl(site, tmp_path, seeds=("/", "/feed.xml"))

    assert done.stored() == {"/news/good-story/", "/news/feed-story/"}
    for name, (url, reason) in targets.items():
        if reason != "scheme":  # Scrapy does not follow redirects to other schemes at all
            assert site.count(f"/go/{name}/") == 1
        # as written, or as Scrapy's w3lib serialises it (2.6: http://127.0.0.2:port/)
        spellings = {canonical(url), Request(url).url} if name != "file" else set()
        either = "(?:" + "|".join(map(re.escape, spellings)) + ")"
        logged = "file:///?etc/passwd" if name == "file" else either
        assert refused(done, logged, reason), (name, url)
    assert refused(done, re.escape(refresh_to), "link_local")  # meta refresh
    assert refused(done, r"http://169\.254\.169\.254/latest/meta-data/sm\.xml", "link_local")
    assert refused(done, r"file://127\.0\.0\.1/etc/passwd", "scheme")
    # feed entry and redirect for each address; the feed entry for each scheme, plus the
    # in-site links file://127.0.0.1/... and ftp://127.0.0.1:port/...
    assert done.stat("news/refused/link_local") == 2 * 2 + 2  # + robots Sitemap:, refresh
    assert done.stat("news/refused/private") == 2 * 2
    assert done.stat("news/refused/loopback") == 4 * 2
    assert done.stat("news/refused/unique_local") == 2
    assert done.stat("news/refused/scheme") == 3 + 2
    # Redirects to file:, data:, ftp: are not followed by Scrapy: the 302 is simply dropped.
    assert done.stat("httperror/response_ignored_status_count/302") == 3
    assert site.count("/") and not [p for p in site.requests if "passwd" in p]


def test_host_names_are_resolved_and_every_address_checked(
    site: HostileSite, tmp_path: Path
) -> None:
    site.pages["/"] = home()
    named = f"http://localhost:{site.port}/"
    # localhost resolves to loopback addresses: allowed, the site is crawled through its name
    allowed = scrapy(
        "crawl", "news", "-a", f"urls={named}", "-s", f"ARCHIVE_URI={tmp_path / 'a'}",
        "-s", "ARCHIVE_RUN_ID=named", *GUARDED, "-s", "NEWS_ALLOWED_NETWORKS=127.0.0.1/32,::1/128",
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "Refused" not in allowed.stderr
    assert [r["url"] for r in text_records(tmp_path / "a" / "news" / "named")] == [
        f"http://localhost:{site.port}/news/good-story/"
    ]
    before = len(site.requests)
    # the same name with only a network that does not hold its address: refused, no request
    refused_run = scrapy(
        "crawl", "news", "-a", f"urls={named}", "-s", f"ARCHIVE_URI={tmp_path / 'b'}",
        *GUARDED, "-s", "NEWS_ALLOWED_NETWORKS=10.0.0.0/8",
    )  # fmt: skip
    assert refused_run.returncode == 3, refused_run.stderr[-3000:]
    assert re.search(
        rf"Refused GET {named}: loopback address 'localhost' -> (127\.0\.0\.1|::1) ",
        refused_run.stderr,
    )
    assert "'news/refused/loopback': 1" in refused_run.stderr  # the seed (robots.txt: Scrapy's)
    assert len(site.requests) == before


# --- loops and floods -------------------------------------------------------------------------


def test_redirect_loops_and_endless_chains_end(site: HostileSite, tmp_path: Path) -> None:
    site.pages["/"] = home("/loop/a/", "/self/", "/chain/0/")
    site.pages["/loop/a/"] = redirect("/loop/b/")
    site.pages["/loop/b/"] = redirect("/loop/a/")
    site.pages["/self/"] = redirect("/self/", 301)
    for i in range(40):
        site.pages[f"/chain/{i}/"] = redirect(f"/chain/{i + 1}/", 307)

    done = crawl(site, tmp_path, "-s", "LOG_LEVEL=DEBUG")

    assert done.stored() == {"/news/good-story/"}
    # A -> B -> A: the second visit of A is a duplicate, dropped by the dupefilter
    assert site.count("/loop/a/") == 1 and site.count("/loop/b/") == 1
    assert site.count("/self/") == 1
    assert done.stat("dupefilter/filtered") >= 2
    # a chain of new URLs ends after REDIRECT_MAX_TIMES (10) hops; Scrapy keeps no stat for
    # this, only a DEBUG line
    assert site.count("/chain/") == 11
    assert "/chain/10/>: max redirections reached" in done.log


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b" " * size, compresslevel=9, mtime=0)


def test_oversized_responses_and_gzip_bombs_are_dropped(site: HostileSite, tmp_path: Path) -> None:
    max_size = 100_000
    big = article("A very long page", extra="<p>" + "word " * 60_000 + "</p>").encode()
    bomb = gzip_bomb(20 * 1024 * 1024)  # 20 MiB of spaces in about 20 kB
    assert len(big) > max_size > len(bomb)
    site.pages["/"] = home("/big/", "/big-unsized/", "/bomb/", "/gzip-broken/", "/gzip-header/")
    site.pages["/big/"] = Page(big)
    site.pages["/big-unsized/"] = Page(big, sized=False)
    gzipped = {"Content-Encoding": "gzip"}
    site.pages["/bomb/"] = Page(bomb, "text/html", headers=gzipped)
    site.pages["/gzip-broken/"] = Page(broken_gzip(), "text/html", headers=gzipped)
    site.pages["/gzip-header/"] = Page(b"\x1f\x8b\x08\x00", "text/html", headers=gzipped)

    # Scrapy logs an oversized download as a WARNING plus an "Error downloading" ERROR with
    # Scrapy's own traceback (DownloadCancelledError), and a body that fails to inflate the
    # same way (zlib.error, EOFError from HttpCompressionMiddleware); none of our code runs.
    errors = ("/big/", "/big-unsized/", "/gzip-broken/", "/gzip-header/")
    done = crawl(
        site, tmp_path, "-s", f"DOWNLOAD_MAXSIZE={max_size}",
        scrapy_errors=tuple(site.base + path for path in errors),
    )  # fmt: skip

    assert done.stored() == {"/news/good-story/"}
    assert (
        f"Expected to receive {len(big)} bytes which is larger than download max size "
        f"({max_size}) in request <GET {site.base}/big/>"
    ) in done.log
    assert re.search(
        rf"Received \d+ bytes which is larger than download max size \({max_size}\) in "
        rf"request <GET {re.escape(site.base)}/big-unsized/>",
        done.log,
    )
    name = "downloader/exception_type_count/scrapy.exceptions.DownloadCancelledError"
    assert done.stat(name) == 2
    assert site.count("/big") == 2  # not retried
    # HttpCompressionMiddleware stops inflating past DOWNLOAD_MAXSIZE and drops the response
    # (IgnoreRequest, no stat): the WARNING line is the record
    assert (
        f"Ignored response <200 {site.base}/bomb/> because its body ({len(bomb)} B compressed"
    ) in done.log
    assert f"exceeded DOWNLOAD_MAXSIZE ({max_size} B) during decompression" in done.log
    assert "zlib.error: Error -3 while decompressing data" in done.log
    assert "EOFError: Compressed file ended before the end-of-stream marker" in done.log
    assert set(re.findall(r"ERROR: Error downloading <GET ([^>]+)>", done.log)) == {
        site.base + path for path in errors
    }


def broken_gzip() -> bytes:
    """A gzip member whose deflate stream is garbage after the header."""
    good = gzip.compress(article("Scrambled").encode(), mtime=0)
    return good[:10] + bytes(byte ^ 0x55 for byte in good[10:60]) + good[60:]


def test_gzip_bodies_without_content_encoding(site: HostileSite, tmp_path: Path) -> None:
    # Served as plain files (no Content-Encoding), HttpCompressionMiddleware leaves them alone
    # and crawler.discovery.documents inflates them itself: a 60 MiB sitemap bomb (58 kB on the
    # wire),
    # a broken deflate stream and a bare gzip header, all non-HTML content types.
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + b" " * (60 * 1024 * 1024)
        + f"<url><loc>{site.base}/news/good-story/</loc></url></urlset>".encode()
    )
    site.pages["/robots.txt"] = Page(
        f"User-agent: *\nDisallow:\nSitemap: {site.base}/sitemap.xml.gz\n".encode(), "text/plain"
    )
    site.pages["/"] = home("/raw-broken/", "/raw-header/")
    site.pages["/sitemap.xml.gz"] = Page(gzip.compress(urlset, 9), "application/octet-stream")
    site.pages["/raw-broken/"] = Page(broken_gzip(), "application/octet-stream")
    site.pages["/raw-header/"] = Page(b"\x1f\x8b\x08\x00", None)

    done = crawl(site, tmp_path, "-s", "DOWNLOAD_MAXSIZE=1000000")

    assert done.stored() == {"/news/good-story/"}
    assert re.search(rf"WARNING: .*{re.escape(site.base)}/sitemap\.xml\.gz", done.log)


# --- garbage content --------------------------------------------------------------------------


def test_binary_empty_and_badly_encoded_pages(site: HostileSite, tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(30_000)
    umlauts = "Müller, Brücke, Straße, café, naïve: Übergang über die Förde. "
    long_url = "/search/?q=" + "A" * 3000
    site.pages["/"] = home(
        "/binary/", "/mixed/", "/declared-latin1/", "/declared-utf8/", "/nul/", "/empty/",
        "/empty-untyped/", "/gzip-untyped/", long_url,
    )  # fmt: skip
    site.pages["/binary/"] = Page(noise, "text/html")
    # UTF-8 with latin-1 bytes and invalid sequences mixed in, declared UTF-8
    mixed = article("Mixed encodings", extra=f"<p>{umlauts}</p>").encode()
    mixed = mixed.replace(b"</article>", b"<p>caf\xe9 \xff\xfe \xc3( \xe2\x82</p></article>")
    site.pages["/mixed/"] = Page(mixed)
    # meta says iso-8859-1, bytes are UTF-8 (and the reverse); no charset in Content-Type
    wrong = article("Wrong charset one", extra=f"<p>{umlauts}</p>", charset="iso-8859-1")
    site.pages["/declared-latin1/"] = Page(wrong.encode("utf-8"), "text/html")
    reverse = article("Wrong charset two", extra=f"<p>{umlauts}</p>", charset="utf-8")
    site.pages["/declared-utf8/"] = Page(reverse.encode("latin-1"), "text/html")
    # a sentence: a closing short line without one would go as a trailer (crawler.extract.edges)
    nul = article("Control characters", extra="<p>The nul \x00 bell \x07 esc \x1b end.</p>")
    site.pages["/nul/"] = Page(nul.encode())
    site.pages["/empty/"] = Page(b"")
    site.pages["/empty-untyped/"] = Page(b"", None)
    site.pages["/gzip-untyped/"] = Page(gzip.compress(b"\x00" * 100), None)
    site.pages[long_url] = html(article("Never fetched"))

    done = crawl(site, tmp_path)

    stored = done.stored()
    assert "/news/good-story/" in stored
    assert not {"/binary/", "/empty/", "/empty-untyped/", "/gzip-untyped/"} & stored
    # pages with a wrong or broken charset are still read (as declared, like browsers do)
    assert {"/mixed/", "/declared-latin1/", "/declared-utf8/", "/nul/"} <= stored
    texts = {urlsplit(r["url"]).path: r["text"] for r in text_records(done.run_dir)}
    assert "Übergang über die Förde" in texts["/mixed/"]  # good UTF-8 kept around bad bytes
    assert "The nul bell esc end." in texts["/nul/"]  # control characters dropped
    assert site.count("/search/") == 0
    assert done.stat("news/refused/url_too_long") == 1
    assert f"Refused GET {site.base}{long_url[:150]}" in done.log
    too_long = (
        r"\(\d+ chars\): (\d+) characters, NEWS_MAX_URL_LENGTH=2048 \[news/refused/url_too_long"
    )
    assert int(re.findall(too_long, done.log)[0]) > 3000
    # binary noise and the empty HTML page: no text (the empty untyped bodies are not HTML)
    assert done.stat("news/not_article/unparsable") == 2
    assert done.stat("news/pages/other") == 2
    assert done.stat("news/pages/html") >= 8


def test_malformed_feed_and_sitemap(site: HostileSite, tmp_path: Path) -> None:
    stories = [f"/news/story-{i}/" for i in range(4)]
    for i, path in enumerate(stories):
        site.pages[path] = html(article(f"Story number {i} of the day"))
    site.pages["/robots.txt"] = Page(
        f"User-agent: *\nDisallow:\nSitemap: {site.base}/sitemap.xml\n"
        f"Sitemap: {site.base}/sitemap-xxe.xml\nSitemap: {site.base}/sitemap-dtd.xml\n"
        .encode(), "text/plain",
    )  # fmt: skip
    site.pages["/"] = home()
    feed = rss(f"{site.base}{stories[0]}", f"{site.base}{stories[1]}").body
    site.pages["/feed.xml"] = Page(feed[: feed.index(b"</item>") + 30], "application/rss+xml")
    site.pages["/feed-xxe.xml"] = Page(
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">'
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b'<rss version="2.0"><channel><title>X</title><item><title>&d;</title>'
        b"<link>" + site.base.encode() + b"/news/x-&x;/</link></item></channel></rss>",
        "application/rss+xml",
    )
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}{stories[2]}</loc></url>"
        f"<url><loc>{site.base}{stories[3]}</loc></url></urlset>"
    )
    site.pages["/sitemap.xml"] = Page(sitemap[: sitemap.index(stories[3]) + 5].encode(), None)
    site.pages["/sitemap-xxe.xml"] = Page(
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
        + site.base.encode() + b"/news/y-&x;/</loc></url></urlset>",
        "application/xml",
    )  # fmt: skip
    # an external DTD on the metadata service: lxml must not fetch it (that would bypass the
    # SSRF guard, which sees only Scrapy's requests)
    site.pages["/sitemap-dtd.xml"] = Page(
        b'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "http://169.254.169.254/x.dtd">'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
        + site.base.encode() + b"/news/z-&x;/</loc></url></urlset>",
        "application/xml",
    )  # fmt: skip

    done = crawl(site, tmp_path, seeds=("/", "/feed.xml", "/feed-xxe.xml"))

    assert "/news/good-story/" in done.stored()
    assert stories[0] in done.stored()  # the complete entry before the cut
    assert stories[2] in done.stored()  # likewise in the sitemap
    assert done.stat("news/pages/feed") == 2 and done.stat("news/pages/sitemap") >= 2
    # the cut-off <loc> is read as far as it goes ("/news"): a 404, nothing worse
    assert done.stat("httperror/response_ignored_status_count/404") >= 1
    # no external entity was read: the XXE entries name no file content
    assert not [p for p in site.requests if "root" in p], site.requests


# --- the guard's rules, without a crawl -------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("2130706433", "loopback"),  # decimal
        ("0x7f.1", "loopback"),  # hex, short form
        ("0x7f000001", "loopback"),
        ("017700000001", "loopback"),  # octal
        ("0177.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:7f00:1", "loopback"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("169.254.169.254", "link_local"),  # cloud metadata
        ("::ffff:169.254.169.254", "link_local"),
        ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 around 169.254.169.254
        ("fe80::1", "link_local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("0xc0.0xa8.1.1", "private"),
        ("fd00::1", "unique_local"),
        ("fc00::5", "unique_local"),
        ("fec0::1", "unique_local"),  # deprecated site-local
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved class E (the stdlib counts it private)
        ("255.255.255.255", "private"),
        ("100.64.0.1", "not_public"),  # carrier-grade NAT
        ("93.184.215.14", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_rules(host: str, reason: str | None) -> None:
    ip = literal_address(host)
    assert ip is not None
    assert address_problem(ip) == reason
    # getaddrinfo (numeric hosts: no DNS query) reads every spelling the same way
    assert [address_problem(a) for a in resolve(host)] == [reason]


def test_allow_list() -> None:
    allowed = parse_networks(["127.0.0.1/32", " 10.1.0.0/16 ", ""])
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert address_problem(ipaddress.ip_address("::ffff:127.0.0.1"), allowed) is None
    assert address_problem(ipaddress.ip_address("127.0.0.2"), allowed) == "loopback"
    assert address_problem(ipaddress.ip_address("10.1.200.3"), allowed) is None
    assert address_problem(ipaddress.ip_address("10.2.0.1"), allowed) == "private"
    with pytest.raises(ValueError, match="NEWS_ALLOWED_NETWORKS: 'intranet' is not a CIDR"):
        parse_networks(["intranet"])


def guard(**settings: Any) -> SSRFGuardMiddleware:
    return SSRFGuardMiddleware(get_crawler(settings_dict=settings))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme"),
        ("data:text/html,<h1>x</h1>", "scheme"),
        ("ftp://example.org/x", "scheme"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme"),
        ("s3://bucket/key", "scheme"),
        ("http://example.org/" + "a" * 2100, "url_too_long"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("https://0x7f.1/", "loopback"),
        # no host in any reading (w3lib >= 2.6 reads "http:///name" as browsers do: host "name")
        ("http://:80/", "no_host"),
        ("http://user@/x", "no_host"),
    ],
)
def test_refused_without_dns(url: str, reason: str) -> None:
    with pytest.raises(RefusedRequest) as refused:
        guard().check_without_dns(Request(url))
    assert refused.value.reason == reason


def test_names_wait_for_dns_and_allowed_addresses_pass() -> None:
    checker = guard(NEWS_ALLOWED_NETWORKS="127.0.0.1/32,::1/128")
    assert checker.check_without_dns(Request("http://news.example.org/a")) == "news.example.org"
    assert checker.check_without_dns(Request("http://127.0.0.1:8000/")) is None
    assert checker.check_without_dns(Request("http://[::1]/")) is None
    # 127.0.0.1 under another spelling is the same allowed address, whichever form
    # Scrapy's w3lib serialises it in (2.6 writes http://127.0.0.1/)
    assert checker.check_without_dns(Request("http://2130706433/")) is None
    assert checker.check_without_dns(Request("http://0x7f.1/")) is None
    unlimited = guard(NEWS_MAX_URL_LENGTH=0)
    assert unlimited.check_without_dns(Request("http://1.1.1.1/" + "a" * 5000)) is None


def test_checked_address_is_pinned_in_scrapys_dns_cache() -> None:
    checker = guard()
    found = (ipaddress.ip_address("2606:4700::1"), ipaddress.ip_address("93.184.215.14"))
    checker.remember("pinned.example.org", found)
    assert dnscache["pinned.example.org"] == "93.184.215.14"
    assert checker.check_without_dns(Request("http://pinned.example.org/")) is None
    with pytest.raises(RefusedRequest, match=re.escape("'rebound.example.org' -> 10.0.0.7")):
        checker.remember("rebound.example.org", (ipaddress.ip_address("10.0.0.7"),))
    assert "rebound.example.org" not in dnscache
    del dnscache["pinned.example.org"]


def test_localhost_resolves_to_loopback() -> None:
    loopback = resolve("localhost")
    assert loopback and all(address_problem(a) == "loopback" for a in loopback)


def test_refusal_is_counted_and_errbacks_hear_of_it() -> None:
    checker = guard()
    with pytest.raises(RefusedRequest, match=re.escape("refused (private): private address")):
        checker.request_scheduled(Request("http://10.0.0.1/"))  # the engine drops it
    assert checker.crawler.stats.get_value("news/refused/private") == 1
    # with an errback: left to process_request, whose IgnoreRequest the errback receives
    checker.request_scheduled(Request("http://10.0.0.1/", errback=lambda failure: None))
    assert checker.crawler.stats.get_value("news/refused/private") == 1


def test_process_request_resolves_once_per_host_and_fails_closed() -> None:
    checker = guard(NEWS_ALLOWED_NETWORKS="127.0.0.1/32")
    answers = {
        "news.example.org": (ipaddress.ip_address("93.184.215.14"),),
        "intranet.example.org": (
            ipaddress.ip_address("93.184.215.14"),
            ipaddress.ip_address("10.0.0.7"),  # one private address is enough to refuse
        ),
        "self.example.org": (ipaddress.ip_address("127.0.0.1"),),
    }
    asked: list[str] = []

    async def lookup(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(-2, "Name or service not known")
        return answers[host]

    checker.lookup = lookup  # type: ignore[method-assign]

    def run(url: str) -> None:
        asyncio.run(checker.process_request(Request(url)))

    run("http://news.example.org/a")
    run("http://news.example.org/b")  # cached for the run
    run("http://self.example.org/")  # allow-listed
    with pytest.raises(RefusedRequest, match=re.escape("'intranet.example.org' -> 10.0.0.7")):
        run("http://intranet.example.org/")
    with pytest.raises(CannotResolveHostError):  # RetryMiddleware retries it, like Scrapy's own
        run("http://gone.example.org/")
    assert asked == ["news.example.org", "self.example.org", "intranet.example.org",
                     "gone.example.org"]  # fmt: skip
    assert checker.crawler.stats.get_value("news/refused/private") == 1
    for host in ("news.example.org", "self.example.org"):
        dnscache.pop(host, None)
