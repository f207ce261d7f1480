"""Finding article URLs: what kind of document a response is, and the links it offers.

Feeds go through feedparser and sitemaps through Scrapy's sitemap parser; nothing here walks
XML by hand. Issue #6 grows this (dates, Google News sitemaps, conditional GET).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from urllib.parse import urlsplit

import feedparser
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

FEED_CONTENT_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed sitemap


class DocKind(enum.Enum):
    HTML = "html"
    FEED = "feed"
    SITEMAP = "sitemap"
    OTHER = "other"


def _content_type(response: Response) -> str:
    raw = response.headers.get(b"Content-Type") or b""
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


def _xml_root(body: bytes) -> str:
    """Local name of the first element in an XML body, without parsing all of it."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    while head.startswith((b"<?", b"<!")):
        end = head.find(b">")
        if end < 0:
            return ""
        head = head[end + 1 :].lstrip()
    if not head.startswith(b"<"):
        return ""
    name = head[1:].split(None, 1)[0].split(b">", 1)[0]
    return name.split(b":")[-1].decode("latin-1").lower()


def sitemap_body(response: Response) -> bytes:
    body = response.body
    if body[:2] == b"\x1f\x8b":  # a .xml.gz served without Content-Encoding
        body = gunzip(body, max_size=SITEMAP_MAX_BYTES)
    return body


def sniff(response: Response) -> DocKind:
    """Kind of a response, by content type and content, not by URL alone."""
    ctype = _content_type(response)
    if ctype in FEED_CONTENT_TYPES:
        return DocKind.FEED
    if ctype in ("text/html", "application/xhtml+xml"):
        return DocKind.HTML
    try:
        root = _xml_root(sitemap_body(response))
    except OSError:
        return DocKind.OTHER
    if root in ("rss", "feed", "rdf"):
        return DocKind.FEED
    if root in ("urlset", "sitemapindex"):
        return DocKind.SITEMAP
    if root == "html":
        return DocKind.HTML
    return DocKind.OTHER


def feed_links(response: Response) -> Iterator[str]:
    """Entry links of an RSS/Atom feed, absolute."""
    parsed = feedparser.parse(response.body, response_headers={"content-location": response.url})
    for entry in parsed.entries:
        link = entry.get("link")
        if link:
            yield response.urljoin(link)


def sitemap_links(response: Response) -> Iterator[tuple[str, bool]]:
    """(url, is_child_sitemap) pairs of a sitemap or sitemap index."""
    sitemap = Sitemap(sitemap_body(response))
    is_index = sitemap.type == "sitemapindex"
    for entry in sitemap:
        loc = entry.get("loc")
        if loc:
            yield response.urljoin(loc), is_index


def in_site(url: str, domains: list[str]) -> bool:
    """Whether the URL's host is one of the domains or below one (ports do not matter)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


# Scrapy's extractor drops images, media and archives by extension; it is stateless, so one
# instance serves every page.
LINK_EXTRACTOR = LinkExtractor(unique=True)


def html_links(response: TextResponse, domains: list[str]) -> Iterator[str]:
    """In-site, followable links of an HTML page."""
    for link in LINK_EXTRACTOR.extract_links(response):
        if not link.nofollow and in_site(link.url, domains):
            yield link.url
