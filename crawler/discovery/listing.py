"""A feed or sitemap read once, into what the spider schedules: its dated entries, a sitemap
index's children (asked for again when the index answers 304), its validators (ETag,
Last-Modified) and whether it was read to its end (only then are the validators saved). Pages
are read by the extraction worker (crawler.extract.pool: article, advertised feeds, links),
robots.txt by crawler.discovery.robots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response

from crawler.discovery.documents import (
    GZIP_ERRORS,
    SITEMAP_SCHEMES,
    DocKind,
    Entry,
    feed_entries,
    read_sitemap,
    url_problem,
    whole_document,
)


@dataclass
class Listing:
    kind: DocKind  # FEED or SITEMAP
    entries: list[Entry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # a sitemap index's child sitemaps
    whole: bool = True  # read to its closing tag: its validators may be saved
    unreadable: BaseException | None = None  # a sitemap whose gzip could not be read at all
    etag: str | None = None
    last_modified: str | None = None


def validators(response: Response) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) as sent: what a conditional GET of the URL sends back."""
    found = (response.headers.get(name) for name in (b"ETag", b"Last-Modified"))
    etag, last_modified = (value.decode("latin-1") if value else None for value in found)
    return etag, last_modified


def read_listing(response: Response, kind: DocKind, max_size: int) -> Listing:
    """The feed or sitemap `response` (as sniffed: `kind`); a sitemap's body is inflated up
    to `max_size` bytes."""
    etag, last_modified = validators(response)
    if kind is DocKind.FEED:
        entries, whole = list(feed_entries(response)), whole_document(response.body)
        return Listing(kind, entries, whole=whole, etag=etag, last_modified=last_modified)
    try:
        entries, whole = read_sitemap(response, max_size)
    except GZIP_ERRORS as exc:  # nothing read, nothing remembered
        return Listing(kind, whole=False, unreadable=exc)
    children = [
        e.url for e in entries if e.is_sitemap and url_problem(e.url, SITEMAP_SCHEMES) is None
    ]
    return Listing(kind, entries, children, whole, etag=etag, last_modified=last_modified)
