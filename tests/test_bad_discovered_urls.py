"""Bad URLs in discovered documents (#14): a `javascript:`, `mailto:`, port-99999 or unparsable
URL in a feed, sitemap, sitemap index, robots.txt `Sitemap:` line or a page's advertised feed
links is counted, logged once with its document and skipped; the rest of the document is
processed. A feed's or sitemap's validators are saved only once the document was read whole,
so a conditional GET (304) never hides entries a run did not get to. (#21) A feed link the feed
parser cannot join is counted too, and a sitemap <loc> must be an absolute http(s) URL.

Every crawl is the real `scrapy crawl news` CLI against a site on 127.0.0.1 (tests/test_hostile).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from html import escape
from pathlib import Path

import pytest

from crawler.discovery.documents import url_problem, whole_document
from tests.test_hostile import (
    NOW,
    Crawl,
    HostileSite,
    Page,
    _Handler,
    article,
    crawl,
    html,
    rss,
)


class _ConditionalHandler(_Handler):
    """Answers 304 when If-None-Match names the page's ETag; notes each request's validator."""

    def do_GET(self) -> None:
        site = self.server.site
        asked = self.headers.get("If-None-Match")
        with site.lock:
            site.validators_sent.append((self.path, asked))
        page = site.pages.get(self.path)
        etag = page.headers.get("ETag") if page else None
        if etag and asked == etag:
            with site.lock:
                site.requests.append(self.path)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture
def site() -> Iterator[HostileSite]:
    with HostileSite() as served:
        served.httpd.RequestHandlerClass = _ConditionalHandler
        served.validators_sent = []  # type: ignore[attr-defined]
        served.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        yield served


def run(site: HostileSite, tmp_path: Path, run_id: str, *seeds: str) -> Crawl:
    """A crawl of `seeds` into the test's one archive, as run `run_id`."""
    done = crawl(site, tmp_path, "-s", f"ARCHIVE_RUN_ID={run_id}", seeds=seeds)
    return dataclasses.replace(done, run_dir=tmp_path / "archive" / "news" / run_id)


def story(site: HostileSite, path: str) -> str:
    site.pages[path] = html(article(path.strip("/").replace("-", " ").title()))
    return site.base + path


def urlset(*locs: str, index: bool = False) -> Page:
    kind, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    entries = "".join(f"<{item}><loc>{loc}</loc></{item}>" for loc in locs)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{kind} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</{kind}>'
    )
    return Page(body.encode(), "application/xml")


def warned(done: Crawl, source: str, document: str, value: str) -> bool:
    line = rf"WARNING: bad URL skipped in {source} {re.escape(document)}: '{re.escape(value)}' \("
    return len(re.findall(line, done.log)) == 1


def test_a_bad_entry_costs_only_itself(site: HostileSite, tmp_path: Path) -> None:
    base = site.base
    bad = {
        "page": "http://127.0.0.1:99999/feed.xml",  # port out of range
        "robots": "javascript:alert(1)",
        "sitemap_index": f"http://127.0.0.1:{site.port}0000/sitemap.xml",  # port out of range
        "sitemap": "http://[::1/news/x/",  # unbalanced "[": unparsable
        "feed": "mailto:x@y",
    }
    # every document lists its bad entry first, then the good ones
    head = "".join(
        f"<link rel='alternate' type='application/rss+xml' href='{href}'>"
        for href in (bad["page"], "/feed.xml")
    )
    site.pages["/"] = html(
        f"<!DOCTYPE html><html><head><title>Harbour Post</title>{head}</head><body>"
        "<a href='/news/linked-story/'>Linked</a></body></html>"
    )
    site.pages["/robots.txt"] = Page(
        f"User-agent: *\nDisallow:\nSitemap: {bad['robots']}\nSitemap: {base}/index.xml\n".encode(),
        "text/plain",
    )
    site.pages["/index.xml"] = urlset(bad["sitemap_index"], f"{base}/sitemap.xml", index=True)
    junk = [f"javascript:void({i})" for i in range(6)]  # many: logged 5, all counted
    site.pages["/sitemap.xml"] = urlset(
        bad["sitemap"], story(site, "/news/sitemap-one/"), *junk, story(site, "/news/sitemap-two/")
    )
    site.pages["/feed.xml"] = rss(
        bad["feed"], story(site, "/news/feed-one/"), story(site, "/news/feed-two/")
    )
    story(site, "/news/linked-story/")

    done = run(site, tmp_path, "first", "/")

    assert done.stored() == {
        "/news/linked-story/", "/news/feed-one/", "/news/feed-two/",
        "/news/sitemap-one/", "/news/sitemap-two/",
    }  # fmt: skip
    documents = {
        "page": f"{base}/", "robots": f"{base}/robots.txt", "sitemap_index": f"{base}/index.xml",
        "sitemap": f"{base}/sitemap.xml", "feed": f"{base}/feed.xml",
    }  # fmt: skip
    for source, value in bad.items():
        assert done.stat(f"news/skipped/bad_url/{source}") == (7 if source == "sitemap" else 1)
        assert warned(done, source, documents[source], value), (source, done.log[-3000:])
    assert done.log.count(f"bad URL skipped in sitemap {base}/sitemap.xml") == 5
    assert done.log.count("[further ones only counted]") == 1
    assert "99999" not in "".join(site.requests)
    # the documents were read whole: their validators are saved (nothing cut short)
    assert done.stat("news/incomplete_document") == 0


def test_validators_saved_only_for_documents_read_whole(site: HostileSite, tmp_path: Path) -> None:
    one, two = story(site, "/news/one/"), story(site, "/news/two/")
    three, four = story(site, "/news/three/"), story(site, "/news/four/")
    # a feed with a bad entry first, read whole: its validators are saved
    site.pages["/feed.xml"] = dataclasses.replace(
        rss("javascript:void(0)", one, two), headers={"ETag": '"feed-v1"'}
    )
    # a feed cut short by its connection (no Content-Length): entry four is lost in transit
    whole = rss(three, four).body
    cut = whole[: whole.index(b"/news/four/")]
    site.pages["/torn.xml"] = Page(cut, "application/rss+xml", headers={"ETag": '"torn-v1"'},
                                   sized=False)  # fmt: skip

    first = run(site, tmp_path, "first", "/feed.xml", "/torn.xml")

    assert first.stored() == {"/news/one/", "/news/two/", "/news/three/"}
    assert first.stat("news/skipped/bad_url/feed") == 1
    assert first.stat("news/incomplete_document") == 1
    assert re.search(r"WARNING: document not read to its end .*/torn\.xml\n", first.log)

    # the next run: the same feed (304), and the torn one now arrives whole
    site.pages["/torn.xml"] = Page(whole, "application/rss+xml", headers={"ETag": '"torn-v1"'})
    site.validators_sent.clear()  # type: ignore[attr-defined]
    site.requests.clear()
    second = run(site, tmp_path, "second", "/feed.xml", "/torn.xml")

    sent = dict(site.validators_sent)  # type: ignore[attr-defined]
    assert sent["/feed.xml"] == '"feed-v1"'  # conditional: answered 304
    assert second.stat("news/not_modified") == 1
    assert sent["/torn.xml"] is None  # not conditional: fetched in full
    assert second.stored() == {"/news/four/"}  # the entry the cut hid, and only it
    assert second.stat("news/skipped/seen") == 1  # three, stored by the first run
    assert second.stat("news/incomplete_document") == 0
    assert "/news/one/" not in site.requests and "/news/two/" not in site.requests


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("javascript:alert(1)", "scheme 'javascript' is not fetched"),
        ("mailto:x@y", "scheme 'mailto' is not fetched"),
        ("http://example.org:99999/a", "unparsable URL: Port out of range 0-65535"),
        ("http://example.org:x/a", "unparsable URL: Port could not be cast to integer value"),
        ("http://[::1/a", "unparsable URL: Invalid IPv6 URL"),
        ("/relative/", "no scheme"),
        ("ht!tp://bad", "no scheme"),  # "!" cannot be in a scheme: a relative path
        ("", "empty URL"),  # a feed link feedparser emptied
        ("https://example.org/a?b=c", None),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert found == problem if problem is None else (found or "").startswith(problem)
    # schemes Scrapy has a handler for are left to the SSRF guard when the spider allows them
    assert url_problem("file:///etc/passwd", ("http", "https", "file")) is None


@pytest.mark.parametrize(
    ("body", "whole"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>\n', True),
        (b"<rss><channel></channel></rss>\n<!-- generated in 0.2s -->\n", True),
        (b"<rdf:RDF xmlns:rdf='x'><item/></rdf:RDF>", True),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry></entry></feed >", True),
        (b"<urlset><url><loc>http://a/1</loc></url></urlset>", True),
        (b"<urlset><url><loc>http://a/1</loc></url><url><loc>http://a/", False),
        (b"<rss><channel><item><title>x</title></item></channel>", False),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', False),
        (b"", False),
    ],
)
def test_whole_document(body: bytes, whole: bool) -> None:
    assert whole_document(body) is whole


def atom(*hrefs: str, base: str = "") -> Page:
    """An Atom feed of one entry per link, under an xml:base when `base` is given."""
    entries = "".join(
        f"<entry><title>Entry {i}</title><id>urn:e:{i}</id><link href='{escape(href)}'/>"
        f"<updated>{NOW.isoformat()}</updated></entry>"
        for i, href in enumerate(hrefs)
    )
    xml_base = f" xml:base='{escape(base)}'" if base else ""
    body = f"<feed xmlns='http://www.w3.org/2005/Atom'{xml_base}><title>F</title>{entries}</feed>"
    return Page(body.encode(), "application/atom+xml")


def test_a_feed_link_the_feed_parser_cannot_join_is_counted(
    site: HostileSite, tmp_path: Path
) -> None:
    """feedparser empties a link that urljoin refuses (an unbalanced "[") instead of giving
    it back: it must not vanish uncounted (#21)."""
    site.pages["/feed.xml"] = rss("http://[::1", story(site, "/news/feed-one/"), "/news/feed-two/")
    story(site, "/news/feed-two/")  # relative links are still joined to the feed's URL
    # under an absolute xml:base feedparser itself joins, and drops, the bad link: its text
    # is lost, the entry is still counted (as an empty URL)
    site.pages["/atom.xml"] = atom("http://[::1/x", "/news/atom-one/", base=f"{site.base}/")
    story(site, "/news/atom-one/")

    done = run(site, tmp_path, "first", "/feed.xml", "/atom.xml")

    assert done.stored() == {"/news/feed-one/", "/news/feed-two/", "/news/atom-one/"}
    assert done.stat("news/skipped/bad_url/feed") == 2
    assert warned(done, "feed", f"{site.base}/feed.xml", "http://[::1")
    assert warned(done, "feed", f"{site.base}/atom.xml", "")


def test_a_sitemap_loc_must_be_an_absolute_http_url(site: HostileSite, tmp_path: Path) -> None:
    """sitemaps.org: a <loc> is a full http(s) URL. Anything else is counted and skipped,
    never resolved against the sitemap's own URL (#21)."""
    base = site.base
    bad = ["ht!tp://bad", "/news/relative/", "news/relative-too/", "file:///etc/passwd",
           f"ftp://127.0.0.1:{site.port}/pub/"]  # fmt: skip
    for path in ("/news/relative/", "/news/relative-too/", "/ht!tp:/bad"):
        story(site, path)  # a lenient resolver would find and store these
    site.pages["/sitemap.xml"] = urlset(*bad, story(site, "/news/absolute/"))
    site.pages["/index.xml"] = urlset("/sitemap.xml", f"{base}/child.xml", index=True)
    site.pages["/child.xml"] = urlset(story(site, "/news/child-story/"))

    done = run(site, tmp_path, "first", "/sitemap.xml", "/index.xml")

    assert done.stored() == {"/news/absolute/", "/news/child-story/"}
    assert not [p for p in site.requests if "relative" in p or "!" in p], site.requests
    assert done.stat("news/skipped/bad_url/sitemap") == len(bad)
    assert done.stat("news/skipped/bad_url/sitemap_index") == 1
    for value in bad:
        assert warned(done, "sitemap", f"{base}/sitemap.xml", value), value
    assert warned(done, "sitemap_index", f"{base}/index.xml", "/sitemap.xml")
    assert done.stat("news/refused/scheme") == 0  # not left to the SSRF guard: never requested
