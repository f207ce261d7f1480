"""Article or not: decided before a page is stored (index, tag, author, search, video, paywall).

A page that is not an article still has its WARC capture; it just yields no text record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qs, urlsplit

from lxml import html as lxml_html

from crawler.extract.metadata import ARTICLE_TYPES, PageData, types_of

# schema.org types that mark listing pages (home, section, tag, author, search).
LISTING_TYPES = frozenset(
    {"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage", "WebSite"}
)
VIDEO_TYPES = frozenset({"VideoObject", "VideoGallery"})
LISTING_OG_TYPES = frozenset({"website", "profile"})
# Teaser blocks on listing pages: one per linked story.
TEASER_XPATH = (
    "//article[.//a[@href]]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' teaser ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' card ')][.//a[@href]]"
)
LISTING_PATH = re.compile(
    r"/(?:tag|tags|topic|topics|category|categories|author|authors|autor|auteur|search|"
    r"suche|recherche|buscar|section|rubrik|rubrique|seccion)(?:/|$)",
    re.IGNORECASE,
)
SEARCH_PARAMS = frozenset({"q", "s", "query", "search", "keywords"})
PAYWALL_TEXT = re.compile(
    r"subscribe to (?:continue|read)|for subscribers only|subscribers? only|"
    r"already a subscriber|to continue reading|this article is for subscribers|"
    r"jetzt abonnieren|nur für abonnenten|weiterlesen mit|"
    r"réservé aux abonnés|article réservé|abonnez-vous|"
    r"solo para suscriptores|exclusivo para suscriptores|suscríbete",
    re.IGNORECASE,
)
# A paywalled or video page with at least this much text is read as a whole article.
FULL_TEXT_CHARS = 1500
# An index page's extracted text is mostly headlines that are also link texts.
MAX_LINKED_LINE_SHARE = 0.35


@dataclass
class PageSignals:
    """What the markup says about a page before its text is judged."""

    types: set[str] = field(default_factory=set)
    og_type: str = ""
    teasers: int = 0
    not_free: bool = False
    paywall_prompt: bool = False
    tree: lxml_html.HtmlElement | None = None

    @cached_property
    def link_texts(self) -> set[str]:
        """Texts of the page's longer links: read only for pages the cheaper checks pass."""
        anchors = self.tree.iter("a") if self.tree is not None else ()
        return {t for t in (_normalise(a.text_content()) for a in anchors) if len(t) > 20}

    @property
    def declares_article(self) -> bool:
        # JSON-LD is more specific than og:type, which themes often set to "article" everywhere.
        if self.types & ARTICLE_TYPES:
            return True
        return self.og_type == "article" and not self.types & LISTING_TYPES - {"WebSite"}

    @property
    def declares_listing(self) -> bool:
        listing = bool(self.types & LISTING_TYPES - {"WebSite"}) or (
            self.og_type in LISTING_OG_TYPES and "WebSite" in self.types
        )
        return listing and not self.declares_article

    @property
    def declares_video(self) -> bool:
        video = bool(self.types & VIDEO_TYPES) or self.og_type.startswith("video")
        return video and not self.declares_article


def _normalise(text: str) -> str:
    return " ".join(text.split())


def page_signals(tree: lxml_html.HtmlElement, page: PageData) -> PageSignals:
    """Signals read from an already chrome-pruned tree."""
    signals = PageSignals()
    for obj in page.jsonld:
        signals.types |= types_of(obj)
        free = obj.get("isAccessibleForFree")
        if free is False or (isinstance(free, str) and free.strip().lower() == "false"):
            signals.not_free = True
    signals.og_type = page.meta.get("og:type", "").strip().lower()
    signals.teasers = len(tree.xpath(TEASER_XPATH))
    body_text = tree.xpath("string(//body)")
    signals.paywall_prompt = bool(PAYWALL_TEXT.search(body_text))
    signals.tree = tree
    return signals


def linked_line_share(text: str, link_texts: set[str]) -> float:
    """Share of the text's characters on lines that are also a link's text (headline lists)."""
    lines = [_normalise(line) for line in text.splitlines() if line.strip()]
    total = sum(len(line) for line in lines)
    linked = sum(len(line) for line in lines if line in link_texts)
    return linked / total if total else 0.0


def is_listing_url(url: str) -> bool:
    parts = urlsplit(url)
    query = {k.lower() for k in parse_qs(parts.query)}
    return bool(LISTING_PATH.search(parts.path) or query & SEARCH_PARAMS) or parts.path in ("", "/")


def not_article_reason(text: str, url: str, signals: PageSignals, min_chars: int) -> str | None:
    """Why a page is not stored as an article, or None when it is one."""
    if len(text) < min_chars:
        return "too_short"
    if (signals.not_free or signals.paywall_prompt) and len(text) < FULL_TEXT_CHARS:
        return "paywall_stub"
    if signals.declares_video and len(text) < FULL_TEXT_CHARS:
        return "video"
    if signals.declares_listing:
        return "listing_markup"
    if not signals.declares_article and (signals.teasers >= 4 or is_listing_url(url)):
        return "listing_page"
    if linked_line_share(text, signals.link_texts) > MAX_LINKED_LINE_SHARE:
        return "link_list"
    return None
