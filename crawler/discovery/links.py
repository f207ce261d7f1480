"""The links an HTML page offers the crawl, read off the tree the extraction worker parsed.

The rules are Scrapy's LinkExtractor(unique=True): <a>/<area> href, HTML5 whitespace stripped,
joined to <base href>, made safe with w3lib, rel=nofollow and media/archive extensions dropped;
plus the project's own: in-site only, no login, print, share or feed URLs (courlan). Scrapy's
own extractor would parse the page a second time and collect every link's text.

Judging a link costs ~50 us (urllib, w3lib and courlan): ~8.6 ms for the ~126 distinct links
of a newsbench page, and a site's pages repeat the same menu, section and teaser links. The
verdict on each joined URL is therefore cached (it depends on nothing else but the encoding
and the sites), as is each URL's canonical form (documents.canonical).
"""

from __future__ import annotations

import posixpath
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from courlan import is_not_crawlable
from scrapy.linkextractors import IGNORED_EXTENSIONS
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from crawler.discovery.documents import canonical, in_site

DENIED_EXTENSIONS = frozenset(f".{e}" for e in IGNORED_EXTENSIONS)
# Scrapy's own set: file: and ftp: links are requested, so the SSRF guard refuses and counts them
# (news/refused/scheme) rather than their vanishing unseen.
LINK_SCHEMES = ("http", "https", "file", "ftp")
LINK_CACHE = 20_000  # joined URLs whose verdict is kept (~5 MB)


def base_url(root: Any, page_url: str) -> str:
    """What a parsed page's relative links are relative to: its <base href>, else its URL."""
    for href in root.iterfind(".//base[@href]"):
        return urljoin(page_url, strip_html5_whitespace(href.get("href")))
    return page_url


@lru_cache(maxsize=LINK_CACHE)
def followable(joined: str, encoding: str, domains: tuple[str, ...]) -> str | None:
    """The URL the crawl would request for a link joined to its page's base, or None when
    the link is not followed (bogus, another scheme, a media file, off-site, not crawlable)."""
    try:
        url = safe_url_string(joined, encoding)
        parts = urlsplit(url)
    except ValueError:
        return None  # a bogus link, as Scrapy skips it
    if (
        parts.scheme in LINK_SCHEMES
        and posixpath.splitext(parts.path)[1].lower() not in DENIED_EXTENSIONS
        and in_site(url, domains)
        and not is_not_crawlable(url)
    ):
        return url
    return None


def html_links(root: Any, base: str, encoding: str, domains: list[str]) -> list[str]:
    """In-site, followable links of a parsed HTML page, in page order, each once; ``base`` is
    the page's base URL (:func:`base_url`)."""
    found: dict[str, None] = {}
    sites = tuple(domains)
    met: set[str] = set()  # hrefs judged already on this page (menus repeat them)
    for element in root.iter("a", "area"):
        href = element.get("href")
        if not href or href in met or "nofollow" in (element.get("rel") or "").lower().split():
            continue
        met.add(href)
        try:
            joined = urljoin(base, strip_html5_whitespace(href))
        except ValueError:
            continue  # a bogus link, as Scrapy skips it
        url = followable(joined, encoding, sites)
        if url is not None:
            found[url] = None
    return list(found)


def followable_links(
    root: Any, base: str, encoding: str, domains: list[str], cap: int = 0
) -> tuple[list[str], int]:
    """:func:`html_links` as the spider requests them: canonical, each once, the first `cap`
    of them (0 = all); and how many more the page had (counted as written, not canonicalised:
    a page of 200,000 links must not cost 200,000 courlan calls)."""
    links = html_links(root, base, encoding, domains)
    kept: dict[str, None] = {}
    for position, url in enumerate(links):
        if cap and len(kept) >= cap:
            return list(kept), len(links) - position
        kept[canonical(url)] = None
    return list(kept), 0
