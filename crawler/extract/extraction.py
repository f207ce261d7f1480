"""HTML -> Article: trafilatura as the engine, plus the project's own rules.

Order of work for one page: parse once; read structured data (JSON-LD, meta); prune page
chrome (crawler.extract.boilerplate); run trafilatura on the pruned tree; clean teaser lines out of
its text; decide metadata by the project's order of trust (crawler.extract.metadata); decide whether
the page is an article at all (crawler.extract.pagetype). Used by the `news` spider and by
`scrapy extract`; it never fetches and never writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml.etree import ParserError
from lxml.html import HtmlElement

from crawler.extract import metadata
from crawler.extract.boilerplate import clean_text, prune_chrome
from crawler.extract.pagetype import not_article_reason, page_signals
from crawler.extract.trafilatura_metadata import TrafilaturaMetadata
from crawler.items import Article

DEFAULT_MIN_CHARS = 400
FAST = True


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(url: str, fetched_at: str) -> str:
    """Stable id of one capture of one URL."""
    return hashlib.sha256(f"{url}\n{fetched_at}".encode()).hexdigest()[:32]


@dataclass
class Extraction:
    """The outcome for one page: the Article found, and why it is not one (None = it is)."""

    article: Article | None
    not_article: str | None = None
    date_source: str | None = None  # jsonld, meta, time, url, htmldate or none


def extract(
    html: str | bytes,
    url: str,
    *,
    fetched_at: str | None = None,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> Extraction:
    """Extract one page. Never raises on bad input: a broken page is a reason, not a crash."""
    tree = parse_html(html)
    if isinstance(tree, str):
        return Extraction(None, tree)
    return extract_tree(tree, url, fetched_at=fetched_at, min_chars=min_chars)


def parse_html(html: str | bytes) -> HtmlElement | str:
    """The page's lxml tree, or why it has none (a reason, never an exception)."""
    try:
        tree = trafilatura.load_html(html)
    except (ParserError, ValueError, TypeError) as exc:
        return f"unparsable: {exc}"
    return "unparsable" if tree is None else tree


def extract_tree(
    tree: HtmlElement,
    url: str,
    *,
    fetched_at: str | None = None,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> Extraction:
    """Extract a page parsed by :func:`parse_html`. Prunes ``tree`` in place: read anything
    else from it (links, feeds) first."""
    fetched_at = fetched_at or utc_now_iso()
    page = metadata.read_page_data(tree)
    prune_chrome(tree)
    signals = page_signals(tree, page)
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # the metadata fields come from TrafilaturaMetadata, as needed
        include_comments=False,
        include_tables=True,
        include_images=False,
        fast=FAST,
    )
    if doc is None:
        return Extraction(None, "no_text")
    fallbacks = TrafilaturaMetadata(tree, url)
    latest = metadata.latest_plausible(fetched_at)
    headings = metadata.Headings.read(tree)
    site = metadata.sitename(page, headings, fallbacks.sitename, url)
    title = metadata.headline(page, headings, fallbacks.title, site, url)
    author = metadata.author(tree, page, lambda: fallbacks.author)
    text = clean_text(doc.text or "", title, author)
    # Live blogs: the JSON-LD updates are the complete, ordered record when they are not
    # shorter than what the page's markup gave (sites sometimes list only the latest few).
    structured = metadata.liveblog_text(page)
    if structured and len(structured) >= 0.8 * len(text):
        text = structured
    date, date_source = metadata.publication_date(tree, page, url, lambda: fallbacks.date, latest)
    article = Article(
        id=record_id(url, fetched_at),
        url=url,
        canonical_url=metadata.canonical_url(tree, page, url),
        title=title,
        author=author,
        date=date,
        date_modified=metadata.modified_date(page, latest),
        sitename=site,
        language=metadata.declared_language(tree, page) or metadata.detected_language(text),
        description=fallbacks.description,
        tags=fallbacks.tags or None,
        text=text,
        fetched_at=fetched_at,
    )
    reason = not_article_reason(text, url, signals, min_chars)
    return Extraction(article, reason, date_source)
