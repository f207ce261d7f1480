"""HTML -> Article: trafilatura as the engine, plus the project's own rules.

Order of work for one page:
1. Parse once.
2. Read the structured data (JSON-LD, meta) and decide the metadata by the project's order of
   trust (metadata, dates, titles). This is done on the page as served, so htmldate's fallback
   sees the dates that pruning would remove.
3. Prune page chrome on a copy (boilerplate), run trafilatura on that copy, and clean the
   header, teaser and trailer lines out of its text (boilerplate, edges, teasers).
4. Fall back where trafilatura on the page as served is the floor:
   - the pruned text is a stub or reads as navigation: the unpruned page's text;
   - the markup has no text at all: the article a client-rendered page carries in its
     scripts (embedded);
   - the page's JSON-LD `articleBody` holds the text and at least as much again: that whole
     body (a page rendered only in part).
5. Decide what kind of page it is (pagetype).

Used by the `news` spider and by `scrapy extract`. It never fetches and never writes, and it
leaves the tree it is given as it was.
"""

from __future__ import annotations

import hashlib
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml.etree import ParserError
from lxml.html import HtmlElement

from crawler.extract import metadata, titles
from crawler.extract.boilerplate import clean_text, prune_chrome, shows_date
from crawler.extract.embedded import contains, declared_body, embedded_text
from crawler.extract.pagetype import (
    MAX_LINKED_SHARE,
    classify,
    linked_share,
    page_signals,
    text_size,
)
from crawler.extract.parsing import load_html
from crawler.extract.readability_gate import readability_gated
from crawler.extract.standfirst import standfirst
from crawler.extract.teasers import MIN_LINK_CHARS, link_texts
from crawler.extract.trafilatura_metadata import TrafilaturaMetadata
from crawler.items import Article

DEFAULT_MIN_CHARS = 400
# trafilatura's fast mode skips its fallback extractors (readability, jusText). Measured on
# ../shared/newsbench (bench/extraction_quality.py): full mode body F1 +0.011 for ~7 ms a page.
# Fast mode first, full mode only for a doubtful text (short against the page's visible text,
# one huge block, mostly links, not the JSON-LD articleBody) was tried (#23): ~1 page in 6 was
# doubtful, and running both on those cost more than fast mode saved on the rest (50.4 vs
# 47.6 ms a page side by side), while body F1 dropped on 2 of 5 site folds (ZDF, Focus).
FAST = False
# Navigation read as text: many lines, nearly all of them a few words long.
NAV_MIN_LINES = 8
NAV_SHORT_WORDS = 4
NAV_SHORT_SHARE = 0.8
# JSON-LD articleBody replaces a text it contains (this share of its 4-word sequences) when it
# is at least this much longer: the page rendered only part of the article.
DECLARED_GROWTH = 2.0
DECLARED_COVER = 0.8
# Link texts this long count when measuring how much of a text is links ("Story 1").
LIST_LINK_CHARS = 5
# A page of thousands of links that is nearly all link text (a site's "all stories" page) is
# a link list before any extraction: trafilatura's fallbacks take ~27 s CPU on 20,000 links,
# and one page must not take over a run. No real article page of the benchmarks comes near
# (at most 2,215 links at a 0.78 link-text share).
HUGE_LIST_LINKS = 2000
HUGE_LIST_SHARE = 0.9


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(url: str, fetched_at: str) -> str:
    """Stable id of one capture of one URL."""
    return hashlib.sha256(f"{url}\n{fetched_at}".encode()).hexdigest()[:32]


@dataclass
class Extraction:
    """The outcome for one page: the Article found, and why it is not one (None = it is)."""

    article: Article | None
    not_article: str | None = None  # why it is not stored (None = stored)
    date_source: str | None = None  # jsonld, meta, time, url, htmldate or none
    text_source: str | None = None  # pruned, unpruned, embedded, declared, liveblog


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
        tree = load_html(html)
    except (ParserError, ValueError, TypeError) as exc:
        return f"unparsable: {exc}"
    return "unparsable" if tree is None else tree


def looks_like_navigation(text: str) -> bool:
    """A menu or a list of sections rather than prose: many lines, nearly all very short."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < NAV_MIN_LINES:
        return False
    short = sum(1 for line in lines if len(line.split()) <= NAV_SHORT_WORDS)
    return short / len(lines) >= NAV_SHORT_SHARE


def trafilatura_text(tree: HtmlElement, url: str, fast: bool | None = None) -> str:
    """trafilatura's main text for the tree (which it copies, never changes), or ""."""
    with readability_gated():
        doc = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,  # the metadata fields come from TrafilaturaMetadata, as needed
            include_comments=False,
            include_tables=True,
            include_images=False,
            fast=FAST if fast is None else fast,
        )
    return (doc.text or "") if doc is not None else ""


def usable(text: str, min_chars: int) -> bool:
    return text_size(text) >= min_chars and not looks_like_navigation(text)


def is_huge_link_list(tree: HtmlElement) -> bool:
    """Thousands of links, and nearly all of the page's text theirs (counted only then)."""
    if tree.xpath("count(//a[@href])") < HUGE_LIST_LINKS:
        return False
    body = tree.find("body")
    total = len((body if body is not None else tree).text_content())
    linked = sum(len(a.text_content()) for a in tree.iterfind(".//a[@href]"))
    return linked >= HUGE_LIST_SHARE * total


def extract_tree(
    tree: HtmlElement,
    url: str,
    *,
    fetched_at: str | None = None,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> Extraction:
    """Extract a page parsed by :func:`parse_html`; ``tree`` is left unchanged."""
    fetched_at = fetched_at or utc_now_iso()
    if is_huge_link_list(tree):
        return Extraction(None, "link_list")
    pruned, widget_dates = deepcopy(tree), []
    prune_chrome(pruned, widget_dates)
    page = metadata.read_page_data(tree)
    fallbacks = TrafilaturaMetadata(tree, url)
    latest = metadata.latest_plausible(fetched_at)
    headings = titles.Headings.read(tree)
    site = titles.sitename(page, headings, fallbacks.sitename, url)
    title = titles.headline(page, headings, fallbacks.title, site, url)
    author = metadata.author(tree, page, lambda: fallbacks.author)

    def htmldate_guess() -> str | None:
        """htmldate on the page as served, unless it read a "today" widget's date."""
        guess = fallbacks.date
        if guess and any(shows_date(widget, guess) for widget in widget_dates):
            return None
        return guess

    date, date_source = metadata.publication_date(tree, page, url, htmldate_guess, latest)
    signals = page_signals(pruned, page)
    headlines = (headings.h1, page.meta.get("og:title"))
    all_links = link_texts(tree, min_chars=LIST_LINK_CHARS)
    links = [link for link in all_links if len(link) >= MIN_LINK_CHARS]

    def cleaned(raw: str) -> str:
        return clean_text(raw, title, author, headlines, links)

    raw = trafilatura_text(pruned, url)
    text, text_source = cleaned(raw), "pruned"
    if not usable(text, min_chars):
        floor_raw = trafilatura_text(tree, url)
        floor = cleaned(floor_raw)
        # a floor that is mostly link text (the page's menus and teaser lists around a short
        # or paywalled story) would only get the page dropped as a link list
        link_list = linked_share(floor_raw, all_links) > MAX_LINKED_SHARE
        if (usable(floor, min_chars) and not (text and link_list)) or (not text and floor):
            raw, text, text_source = floor_raw, floor, "unpruned"
    if text_size(text) < min_chars:
        embedded_raw = embedded_text(tree, page.article.get("articleBody"))
        embedded = cleaned(embedded_raw)
        if text_size(embedded) > 2 * text_size(text):
            raw, text, text_source = embedded_raw, embedded, "embedded"
    declared = declared_body(page.article.get("articleBody"))
    if len(declared) >= DECLARED_GROWTH * len(text) and contains(declared, text) >= DECLARED_COVER:
        # the markup held only part of the article the page declares: take the whole
        raw, text, text_source = declared, cleaned(declared), "declared"
    if lead := standfirst(tree, headings.h1, text):
        text = f"{lead}\n{text}"  # the lead paragraph trafilatura left out, in its place
    if not text:
        return Extraction(None, "no_text", date_source)
    # Live blogs: the JSON-LD updates are the complete, ordered record when they are not
    # shorter than what the page's markup gave (sites sometimes list only the latest few).
    structured = metadata.liveblog_text(page)
    if structured and len(structured) >= 0.8 * len(text):
        text, text_source = structured, "liveblog"
    kind = classify(text, url, signals, min_chars, all_links, raw)
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
        page_type=kind.kind,
        page_type_reason=kind.reason,
        fetched_at=fetched_at,
    )
    return Extraction(article, kind.reason if kind.dropped else None, date_source, text_source)
