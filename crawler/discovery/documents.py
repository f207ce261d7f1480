"""Finding article URLs: what kind of document a response is, and the links it offers.

Feeds go through feedparser, sitemaps (indexes, gzipped, Google News) through Scrapy's sitemap
parser, URLs through courlan: nothing here walks XML by hand (robots.txt: crawler.discovery.robots).
Entries carry their dates so old ones are skipped before they are fetched.
"""

from __future__ import annotations

import calendar
import enum
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
from courlan import normalize_url
from dateutil import parser as date_parser
from lxml import etree
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.control.startup import ArgumentError

CANONICAL_CACHE = 20_000  # URLs whose canonical form is kept (~4 MB)

NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"

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


GZIP_ERRORS = (OSError, EOFError, ValueError, zlib.error)  # torn, bombs (ValueError), garbage


def sitemap_body(response: Response, max_size: int = SITEMAP_MAX_BYTES) -> bytes:
    """The body, gunzipped when it is a .xml.gz served without Content-Encoding (at most
    `max_size` bytes inflated: a small file can be a decompression bomb)."""
    body = response.body
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, max_size=min(max_size or SITEMAP_MAX_BYTES, SITEMAP_MAX_BYTES))
    return body


def _head(body: bytes, size: int = 2048) -> bytes:
    """The first bytes of a body, inflating only that much of a gzipped one."""
    if body[:2] != b"\x1f\x8b":
        return body[:size]
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as handle:
        return handle.read(size)


def sniff(response: Response) -> DocKind:
    """Kind of a response, by content type and content, not by URL alone."""
    ctype = _content_type(response)
    if ctype in FEED_CONTENT_TYPES:
        return DocKind.FEED
    if ctype in ("text/html", "application/xhtml+xml"):
        return DocKind.HTML
    try:
        root = _xml_root(_head(response.body))
    except GZIP_ERRORS:
        return DocKind.OTHER
    if root in ("rss", "feed", "rdf"):
        return DocKind.FEED
    if root in ("urlset", "sitemapindex"):
        return DocKind.SITEMAP
    if root == "html":
        return DocKind.HTML
    return DocKind.OTHER


@dataclass(frozen=True)
class Entry:
    """A URL a feed or sitemap offers, with the date it gives (None: undated)."""

    url: str
    date: datetime | None = None
    is_sitemap: bool = False  # a child sitemap of a sitemap index


def parse_date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = date_parser.parse(str(value))
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_iso_date(value: str) -> tuple[datetime, bool]:
    """A date a person typed: strictly ISO 8601, a day (YYYY-MM-DD) or a time with an optional
    offset (UTC without one); and whether it was a day. Feed dates are guessed (parse_date);
    a person's typo must not be: it raises ValueError."""
    text = value.strip()
    parsed = datetime.fromisoformat(text)
    try:
        date.fromisoformat(text)
        is_day = True
    except ValueError:
        is_day = False
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), is_day


def _window_bound(name: str, value: str) -> datetime:
    """-a since/until: the first instant of `since`; the instant after `until` (after its last
    day when it is a day, so the day is included)."""
    try:
        moment, is_day = parse_iso_date(value)
    except ValueError as exc:
        raise ArgumentError(
            f"-a {name}={value!r}: not a date ({exc}); use YYYY-MM-DD or ISO 8601 with a time,"
            " e.g. 2026-11-01T06:00+01:00"
        ) from None
    return moment + timedelta(days=1) if name == "until" and is_day else moment


def join_url(document: str, href: str) -> str:
    """`href` made absolute against the URL of the document (a feed, a robots.txt) it is in;
    an unparsable one is returned as it is, for :func:`url_problem` to say why (one bad entry
    must not end the document's iteration). Not `TextResponse.urljoin`: that would honour a
    `<base href>` found in a feed's (CDATA) text."""
    try:
        return urljoin(document, href)
    except ValueError:
        return href


def feed_entries(response: Response) -> Iterator[Entry]:
    """Entries of an RSS/Atom feed: absolute link and published (else updated) date.
    feedparser gets no base URL: joining links itself, it turns one urljoin refuses (an
    unbalanced "[") into "", and the entry would vanish uncounted; without a base the link
    comes back as written, for :func:`join_url`. A link there but empty (so written, or so
    made by feedparser against an xml:base) is offered as "": a bad URL too."""
    for entry in feedparser.parse(response.body).entries:
        link = entry.get("link")
        if link is None:  # no link at all: an entry that offers no page
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        try:
            date = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
        except (ValueError, OverflowError, OSError):
            date = None
        yield Entry(join_url(response.url, link) if link else "", date)


class NewsSitemap(Sitemap):
    """Scrapy's sitemap parser, plus the Google News `news:publication_date` it flattens."""

    __slots__ = ()

    def _process_sitemap_element(self, elem: etree._Element) -> dict[str, Any] | None:
        published = elem.findtext(f"{NEWS_NS}news/{NEWS_NS}publication_date")
        found = super()._process_sitemap_element(elem)
        if found is not None and published:
            found["publication_date"] = published.strip()
        return found


def sitemap_entries(response: Response, max_size: int = SITEMAP_MAX_BYTES) -> Iterator[Entry]:
    """URLs of a sitemap (dated by news:publication_date, else lastmod) or sitemap index.
    Raises one of GZIP_ERRORS for a broken or oversized gzipped sitemap."""
    return _sitemap_entries(sitemap_body(response, max_size))


def read_sitemap(response: Response, max_size: int = SITEMAP_MAX_BYTES) -> tuple[list[Entry], bool]:
    """The entries of a sitemap, and whether its document was whole (:func:`whole_document`).
    Raises one of GZIP_ERRORS for a broken or oversized gzipped sitemap."""
    body = sitemap_body(response, max_size)
    return list(_sitemap_entries(body)), whole_document(body)


def _sitemap_entries(body: bytes) -> Iterator[Entry]:
    """Each <loc> as written (stripped), never joined to the sitemap's URL: the protocol wants
    an absolute URL, and a lenient join would fetch `/ht!tp:/bad` for `ht!tp://bad`. The
    spider checks each against SITEMAP_SCHEMES, so anything else is a bad URL."""
    sitemap = NewsSitemap(body)
    is_index = sitemap.type == "sitemapindex"
    for item in sitemap:
        date = parse_date(item.get("publication_date") or item.get("lastmod"))
        yield Entry(item.get("loc", ""), date, is_index)


def _tail_tag(body: bytes) -> str:
    """Local name of the end tag an XML body ends with ("" when it ends with anything else),
    past trailing whitespace, comments and processing instructions."""
    tail = body[-4096:].rstrip()
    while tail.endswith((b"-->", b"?>")):
        start = tail.rfind(b"<!--" if tail.endswith(b"-->") else b"<?")
        if start < 0:
            return ""
        tail = tail[:start].rstrip()
    found = re.search(rb"</([^\s<>/]+)\s*>$", tail)
    return found.group(1).split(b":")[-1].decode("latin-1").lower() if found else ""


def whole_document(body: bytes) -> bool:
    """Whether an XML feed or sitemap body (uncompressed) ends with its root element's end tag.
    A download cut short (a connection closed early, no Content-Length) ends anywhere before
    it, and the parsers, which recover, would read such a document's first entries silently."""
    root = _xml_root(body)
    return bool(root) and _tail_tag(body) == root


WEB_SCHEMES = ("http", "https")
# sitemaps.org: a <loc> is a full http(s) URL; a file: or ftp: one is bad, not the SSRF guard's.
SITEMAP_SCHEMES = WEB_SCHEMES
LOGGED_VALUE_CHARS = 200


def shorten(value: str, size: int = LOGGED_VALUE_CHARS) -> str:
    """A discovered value as logged: at most `size` characters, and its length when longer."""
    return value if len(value) <= size else f"{value[:size]}...({len(value)} chars)"


def url_problem(url: str, schemes: Iterable[str] = WEB_SCHEMES) -> str | None:
    """Why a URL a feed, sitemap, robots.txt or page offers cannot be requested (None: it can).
    `schemes`: those a request may have (others, like javascript: and mailto:, name no
    document); a port out of range, an unbalanced "[" or anything `scrapy.Request` refuses
    is a bad URL too. Which hosts may be fetched is the SSRF guard's business, not this."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError as exc:
        return f"unparsable URL: {exc}"
    if not url.strip():
        return "empty URL"
    scheme = parts.scheme.lower()
    if not scheme:
        return "no scheme"
    if scheme not in schemes:
        return f"scheme {scheme!r} is not fetched"
    try:
        Request(url)
    except ValueError as exc:
        return str(exc)
    return None


FEED_LINKS = etree.XPath(
    "//link[contains(concat(' ', normalize-space(@rel), ' '), ' alternate ')]"
    "[@type='application/rss+xml' or @type='application/atom+xml']/@href"
)


def advertised_feeds(root: Any, base: str) -> list[str]:
    """Feeds a parsed page advertises with <link rel="alternate" type="application/rss+xml">;
    ``base`` is the page's base URL (:func:`base_url`)."""
    found = []
    for href in FEED_LINKS(root):
        if href.strip():
            try:
                found.append(urljoin(base, href.strip()))
            except ValueError:
                found.append(href.strip())  # in_site() drops it; the spider never sees it
    return found


@lru_cache(maxsize=CANONICAL_CACHE)
def canonical(url: str) -> str:
    """The URL the seen-store keys on: tracking parameters (utm_*, fbclid, ...) removed,
    query sorted, host lower-cased (courlan), fragment dropped. Cached: a site's pages repeat
    the same menu links, and courlan takes ~25 us a URL."""
    try:
        normalised = normalize_url(url)
    except ValueError:
        normalised = url
    return urlunsplit(urlsplit(normalised)._replace(fragment=""))


@dataclass(frozen=True)
class DateWindow:
    """Which entry dates a run wants: -a since/until, else NEWS_MAX_AGE_DAYS back from now."""

    since: datetime | None
    until: datetime | None

    @classmethod
    def build(cls, since: str | None, until: str | None, max_age_days: float) -> DateWindow:
        """Raises ArgumentError for a since/until that is not a date, or since not before until."""
        start = _window_bound("since", since) if since else None
        if start is None and max_age_days > 0:
            start = datetime.now(UTC) - timedelta(days=max_age_days)
        end = _window_bound("until", until) if until else None
        if start is not None and end is not None and start >= end:
            if since:
                raise ArgumentError(f"-a since={since} is not before -a until={until}")
            raise ArgumentError(
                f"-a until={until} is older than NEWS_MAX_AGE_DAYS={max_age_days:g} days ago:"
                " nothing could be fetched; give -a since= too"
            )
        return cls(start, end)

    def allows(self, date: datetime | None) -> bool:
        if date is None:
            return True  # undated: cannot tell, so fetch
        if self.since is not None and date < self.since:
            return False
        return self.until is None or date < self.until


def in_site(url: str, domains: Iterable[str]) -> bool:
    """Whether the URL's host is one of the domains or below one (ports do not matter)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # an unparsable URL is on no site
        return False
    return any(host == d or host.endswith("." + d) for d in domains)
