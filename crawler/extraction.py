"""HTML -> Article: trafilatura as the engine, plus the page-type decision.

Used by the `news` spider and by `scrapy extract`; it never fetches and never writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trafilatura
from lxml import html as lxml_html
from lxml.etree import ParserError

from crawler.items import Article

logger = logging.getLogger(__name__)

# schema.org types whose presence in JSON-LD marks a single article page.
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
    }
)
# schema.org types that mark listing pages (home, section, tag, author, search).
LISTING_TYPES = frozenset(
    {"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage", "WebSite"}
)
# og:type values that mean "not a single article".
LISTING_OG_TYPES = frozenset({"website", "profile"})
# Teaser blocks on listing pages: one per linked story.
TEASER_XPATH = (
    "//article[.//a[@href]] | //*[contains(concat(' ', normalize-space(@class), ' '), ' teaser ')]"
)
DEFAULT_MIN_CHARS = 400
# An index page's extracted text is mostly headlines that are also link texts.
MAX_LINKED_LINE_SHARE = 0.35


@dataclass
class PageSignals:
    """What the markup says about a page before its text is judged."""

    jsonld_types: set[str] = field(default_factory=set)
    og_type: str | None = None
    teasers: int = 0
    link_texts: set[str] = field(default_factory=set)

    @property
    def declares_article(self) -> bool:
        return bool(self.jsonld_types & ARTICLE_TYPES) or self.og_type == "article"

    @property
    def declares_listing(self) -> bool:
        listing = bool(self.jsonld_types & LISTING_TYPES) or self.og_type in LISTING_OG_TYPES
        return listing and not self.declares_article


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _jsonld_objects(tree: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue  # broken JSON-LD is common; the page is judged on the rest
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                yield node
                stack.extend(v for k, v in node.items() if k == "@graph")


def page_signals(tree: lxml_html.HtmlElement) -> PageSignals:
    signals = PageSignals()
    for obj in _jsonld_objects(tree):
        types = obj.get("@type")
        signals.jsonld_types.update([types] if isinstance(types, str) else types or [])
    og = tree.xpath('string(//meta[@property="og:type"]/@content)').strip().lower()
    signals.og_type = og or None
    signals.teasers = len(tree.xpath(TEASER_XPATH))
    signals.link_texts = {
        t for t in (_normalise(a.text_content()) for a in tree.iter("a")) if len(t) > 20
    }
    return signals


def declared_language(tree: lxml_html.HtmlElement) -> str | None:
    """Primary language subtag the page declares (html lang, Content-Language, og:locale)."""
    for value in (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        tree.xpath(
            "string(//meta[translate(@http-equiv, 'CONTENTLAGU', 'contentlagu')"
            " = 'content-language']/@content)"
        ),
        tree.xpath('string(//meta[@property="og:locale"]/@content)'),
    ):
        tag = re.split(r"[-_,;\s]", (value or "").strip(), maxsplit=1)[0].lower()
        if 2 <= len(tag) <= 3 and tag.isalpha():
            return tag
    return None


def linked_line_share(text: str, link_texts: set[str]) -> float:
    """Share of the text's characters on lines that are also a link's text (headline lists)."""
    lines = [_normalise(line) for line in text.splitlines() if line.strip()]
    total = sum(len(line) for line in lines)
    linked = sum(len(line) for line in lines if line in link_texts)
    return linked / total if total else 0.0


def not_article_reason(text: str, signals: PageSignals, min_chars: int) -> str | None:
    """Why a page is not stored as an article, or None when it is one."""
    if len(text) < min_chars:
        return "too_short"
    if signals.declares_listing:
        return "listing_markup"
    if not signals.declares_article and signals.teasers >= 4:
        return "teaser_list"
    if linked_line_share(text, signals.link_texts) > MAX_LINKED_LINE_SHARE:
        return "link_list"
    return None


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


def extract(
    html: str | bytes,
    url: str,
    *,
    fetched_at: str | None = None,
    min_chars: int = DEFAULT_MIN_CHARS,
) -> Extraction:
    """Extract one page. Never raises on bad input: a broken page is a reason, not a crash."""
    fetched_at = fetched_at or utc_now_iso()
    try:
        tree = trafilatura.load_html(html)
    except (ParserError, ValueError, TypeError) as exc:
        return Extraction(None, f"unparsable: {exc}")
    if tree is None:
        return Extraction(None, "unparsable")
    signals = page_signals(tree)
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params={"extensive_search": True, "original_date": True},
    )
    if doc is None:
        return Extraction(None, "no_text")
    text = doc.text or ""
    article = Article(
        id=record_id(url, fetched_at),
        url=url,
        canonical_url=doc.url or url,
        title=doc.title,
        author=doc.author,
        date=doc.date,
        sitename=doc.sitename,
        language=doc.language or declared_language(tree),
        description=doc.description,
        tags=list(doc.tags or []) or None,
        text=text,
        fetched_at=fetched_at,
    )
    return Extraction(article, not_article_reason(text, signals, min_chars))
