"""The demo news site and its server, checked over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import html
import http.client
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest

from crawler.demo.server import SITE_DIR, DemoServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PAGES = json.loads((PROJECT_ROOT / "crawler" / "demo" / "pages.json").read_text("utf-8"))
ARTICLES = [p for p in PAGES if p["kind"] == "article"]
SEED_PATH = "/latest/azerbaijans-military-operation-in-nagorno-karabakh/"
SEED_DOC = PROJECT_ROOT.parent / "shared" / "seed" / "000_21439ab597453d37.txt"
# Where each template keeps the article body.
BODY_XPATH = {
    "wpnews": "//div[contains(concat(' ', normalize-space(@class), ' '), ' td-post-content ')]",
    "ghostlike": "//section[contains(concat(' ', normalize-space(@class), ' '), ' gh-content ')]",
    "newsroom": "//div[contains(concat(' ', normalize-space(@class), ' '), ' field--name-body ')]",
}
RSS_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _OPENER.open(request, timeout=10) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, err.headers, err.read())


def raw_get(server: DemoServer, path: str) -> Response:
    """A request with the path sent exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def norm(text: str) -> str:
    return " ".join(text.split())


def text_of(element: lxml.html.HtmlElement) -> str:
    return norm(" ".join(element.itertext()))


def body_text(doc: lxml.html.HtmlElement, template: str) -> str:
    """The article's own text: its body blocks, minus an in-body 'May You Like:' teaser line."""
    (container,) = doc.xpath(BODY_XPATH[template])
    blocks = [text_of(el) for el in container.iter("p", "h2", "h3", "h4", "li", "figcaption")]
    return " ".join(b for b in blocks if b and not b.startswith("May You Like"))


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer() as demo:
        yield demo


@pytest.fixture(scope="module")
def served(server: DemoServer) -> dict[str, Response]:
    return {p["path"]: fetch(server.base_url + p["path"]) for p in PAGES}


def test_ground_truth_shape() -> None:
    templates = {p["template"] for p in ARTICLES}
    assert templates == {"wpnews", "ghostlike", "newsroom"}
    assert len(ARTICLES) >= 13
    for template in templates:
        assert sum(p["template"] == template for p in ARTICLES) >= 4, template
    assert {p["language"] for p in ARTICLES} == {"en", "de"}
    assert len({p["path"] for p in PAGES}) == len(PAGES)
    for page in ARTICLES:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", page["date"]), page
        assert 2 <= len(page["must_contain"]) <= 4, page["path"]
        assert 3 <= len(page["must_not_contain"]) <= 8, page["path"]
        assert page["author"] and page["title"]
    files = {str(f.relative_to(SITE_DIR)) for f in SITE_DIR.rglob("*.html")}
    expected = {
        p["path"].strip("/") + ("/index.html" if p["path"].endswith("/") else "") for p in PAGES
    }
    assert files == {e.lstrip("/") for e in expected}  # every HTML file is described


def test_every_page_is_served_as_html_with_site_title(served: dict[str, Response]) -> None:
    for page in PAGES:
        resp = served[page["path"]]
        assert resp.status == 200, page["path"]
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert int(resp.headers["Content-Length"]) == len(resp.body)
        doc = lxml.html.fromstring(resp.body)
        title = norm(doc.findtext(".//title") or "")
        assert re.search(r" [-|] The Demo Gazette$", title), title
        assert page["title"] in title, (page["title"], title)
        assert doc.get("lang", "").startswith(page["language"]), page["path"]


def test_ground_truth_strings_are_in_the_right_place(served: dict[str, Response]) -> None:
    for page in ARTICLES:
        raw = served[page["path"]].body
        doc = lxml.html.fromstring(raw)
        body = body_text(doc, page["template"])
        assert len(body.split()) > 200, page["path"]
        whole = text_of(doc) + " " + norm(html.unescape(raw.decode("utf-8")))
        for snippet in page["must_contain"]:
            assert snippet in body, (page["path"], snippet)
        for chrome in page["must_not_contain"]:
            assert chrome not in body, (page["path"], chrome)
            assert chrome in whole, (page["path"], chrome)


def test_templates_carry_their_own_markup_and_dates(served: dict[str, Response]) -> None:
    for page in ARTICLES:
        doc = lxml.html.fromstring(served[page["path"]].body)
        ld = doc.xpath("//script[@type='application/ld+json']/text()")
        published = doc.xpath("//meta[@property='article:published_time']/@content")
        if page["template"] == "wpnews":
            assert not ld and not published
            (stamp,) = doc.xpath("//div[@class='td-post-header']//time/@datetime")
            assert stamp.startswith(page["date"])
            assert doc.xpath("//div[@class='td_data_time']") and doc.xpath("//*[@id='respond']")
        elif page["template"] == "ghostlike":
            (data,) = [json.loads(x) for x in ld]
            assert data["@type"] == "NewsArticle" and data["headline"] == page["title"]
            assert data["datePublished"].startswith(page["date"])
            assert data["author"]["name"] == page["author"]
            assert doc.xpath("//article[contains(@class, 'gh-article')]//header//time")
        else:
            assert published and published[0].startswith(page["date"])
            (author,) = doc.xpath("//article//a[@rel='author']/text()")
            assert author == page["author"]
            assert doc.xpath("//figure//figcaption")


def test_seed_page_keeps_every_paragraph_of_the_seed(served: dict[str, Response]) -> None:
    (page,) = [p for p in PAGES if p["path"] == SEED_PATH]
    assert page["template"] == "wpnews" and page["date"] == "2023-09-19"
    for chrome in (
        "Please enter your comment",
        "Please enter your name",
        "Most Popular",
        "Recent Comments",
        "spot_img",
        "Billie Eilish",
        "May You Like",
        "Thursday, February 29, 2024",
    ):
        assert chrome in page["must_not_contain"]
    doc = lxml.html.fromstring(served[SEED_PATH].body)
    body = body_text(doc, "wpnews")
    for head in ("Organized Shelling", "Unforeseen Escalation", "Russian inactivity"):
        assert head in body
    if not SEED_DOC.is_file():
        pytest.skip("seed document not available here")
    lines = [norm(x) for x in SEED_DOC.read_text("utf-8").splitlines()]
    start = lines.index(page["title"]) + 1
    end = next(i for i, x in enumerate(lines) if x.startswith("May You Like"))
    paragraphs = [x for x in lines[start:end] if len(x.split()) > 12]
    assert len(paragraphs) == 18
    for paragraph in paragraphs:
        assert paragraph in body, paragraph[:60]


def test_feed_lists_recent_articles_with_real_urls(server: DemoServer) -> None:
    resp = fetch(server.base_url + "/feed.xml")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/rss+xml"
    assert "{{BASE}}" not in resp.text
    items = ET.fromstring(resp.body).findall("./channel/item")
    assert len(items) == 10
    by_path = {p["path"]: p for p in ARTICLES}
    dates = []
    for item in items:
        link, guid = item.findtext("link") or "", item.findtext("guid") or ""
        assert link == guid and link.startswith(server.base_url + "/")
        page = by_path[urlsplit(link).path]
        assert item.findtext("title") == page["title"] and item.findtext("description")
        published = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert published.date().isoformat() == page["date"]
        dates.append(published)
        assert fetch(link).status == 200
    assert dates == sorted(dates, reverse=True)
    newest = sorted((p["date"] for p in ARTICLES), reverse=True)[:10]
    assert [d.date().isoformat() for d in dates] == newest


def test_sitemap_covers_articles_and_sections(server: DemoServer) -> None:
    resp = fetch(server.base_url + "/sitemap.xml")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/xml"
    urls = ET.fromstring(resp.body).findall("sm:url", RSS_NS)
    locs = [u.findtext("sm:loc", namespaces=RSS_NS) or "" for u in urls]
    assert all(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", u.findtext("sm:lastmod", "", RSS_NS)) for u in urls
    )
    assert all(loc.startswith(server.base_url + "/") for loc in locs)
    paths = {urlsplit(loc).path for loc in locs}
    assert {p["path"] for p in ARTICLES} | {"/", "/world/", "/business/", "/technology/"} <= paths
    assert "/search/" not in paths
    for loc in locs:
        assert fetch(loc).status == 200, loc


def test_robots_txt(server: DemoServer) -> None:
    resp = fetch(server.base_url + "/robots.txt")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert "User-agent: *" in lines and "Disallow: /search/" in lines
    assert f"Sitemap: {server.base_url}/sitemap.xml" in lines


def test_home_page_advertises_the_feed(served: dict[str, Response]) -> None:
    doc = lxml.html.fromstring(served["/"].body)
    assert doc.xpath("//link[@rel='alternate'][@type='application/rss+xml']/@href") == ["/feed.xml"]


def test_internal_links_are_root_relative(served: dict[str, Response]) -> None:
    for path, resp in served.items():
        doc = lxml.html.fromstring(resp.body)
        for url in doc.xpath("//a/@href | //link/@href | //img/@src | //script/@src"):
            host = urlsplit(url).hostname or ""
            assert host not in ("127.0.0.1", "localhost"), (path, url)
            assert "demo-gazette" not in host, (path, url)
        for href in doc.xpath("//link[@rel='canonical']/@href"):
            assert href == path


# Files the templates name that are not part of the demo: images, styles, scripts (the
# crawler follows pages, not these).
ASSET_SUFFIXES = (".jpg", ".png", ".svg", ".ico", ".css", ".js", ".php")


def test_no_dead_links(server: DemoServer, served: dict[str, Response]) -> None:
    """Every page a demo page links to is served: sections, tags, authors, service pages."""
    targets: dict[str, str] = {}
    for path, resp in served.items():
        for href in lxml.html.fromstring(resp.body).xpath("//a/@href"):
            url = urlsplit(href)
            if url.scheme or url.netloc or not url.path or url.path.endswith(ASSET_SUFFIXES):
                continue
            targets.setdefault(url.path, path)
    assert len(targets) > len(PAGES)  # the pages, the feed and the sitemap
    dead = {
        target: linked_from
        for target, linked_from in targets.items()
        if fetch(server.base_url + target, method="HEAD").status != 200
    }
    assert not dead


def test_every_article_within_two_clicks_of_home(server: DemoServer) -> None:
    def links(path: str) -> set[str]:
        doc = lxml.html.fromstring(fetch(server.base_url + path).body)
        hrefs = (urlsplit(h) for h in doc.xpath("//a/@href"))
        return {h.path for h in hrefs if not h.netloc and h.path.startswith("/")}

    first = links("/")
    reached = set(first)
    for path in first:
        if path.endswith("/") or path.endswith(".html"):
            status = fetch(server.base_url + path, method="HEAD").status
            if status == 200:
                reached |= links(path)
    missing = {p["path"] for p in ARTICLES} - reached
    assert not missing


def test_gzip_matches_identity(server: DemoServer) -> None:
    for path in (SEED_PATH, "/feed.xml", "/robots.txt"):
        plain = fetch(server.base_url + path)
        packed = fetch(server.base_url + path, {"Accept-Encoding": "gzip, deflate"})
        assert plain.headers.get("Content-Encoding") is None
        assert packed.headers["Content-Encoding"] == "gzip"
        assert packed.headers["Vary"] == "Accept-Encoding"
        assert int(packed.headers["Content-Length"]) == len(packed.body)
        assert gzip.decompress(packed.body) == plain.body
        if path == SEED_PATH:
            assert len(packed.body) < len(plain.body) // 2


def test_conditional_requests(server: DemoServer) -> None:
    url = server.base_url + "/technology/"
    first = fetch(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    again = fetch(url, {"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert fetch(url, {"If-Modified-Since": modified}).status == 304
    assert fetch(url, {"If-None-Match": '"something-else"'}).status == 200
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}).status == 200
    zipped = fetch(url, {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert zipped.status == 304


def test_head_redirect_and_not_found(server: DemoServer) -> None:
    get = fetch(server.base_url + "/world/")
    head = fetch(server.base_url + "/world/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(get.body))
    moved = fetch(server.base_url + "/world")
    assert moved.status == 301 and moved.headers["Location"] == "/world/"
    missing = fetch(server.base_url + "/world/no-such-story/")
    assert missing.status == 404 and missing.headers["Content-Type"].startswith("text/html")
    assert b"Page not found" in missing.body


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/world/..%2f..%2f..%2fserver.py", "/%2E%2E/server.py", "/../server.py",
    "/world/%2e%2e/%2e%2e/pages.json", "/..%5c..%5cserver.py",
])  # fmt: skip
def test_no_path_traversal(server: DemoServer, path: str) -> None:
    resp = raw_get(server, path)
    assert resp.status == 404, path
    assert b"def main" not in resp.body and b"root:" not in resp.body


def test_requests_are_logged(server: DemoServer) -> None:
    fetch(server.base_url + "/business/?ref=log")
    fetch(server.base_url + "/nowhere/")
    assert ("GET", "/business/?ref=log", 200) in server.requests
    assert ("GET", "/nowhere/", 404) in server.requests


def test_command_line_server_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo.server", "--port", "0"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), base
        assert b"The Demo Gazette" in fetch(base + "/").body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
