"""What kind of page this is: decided before a page is stored, erring toward keeping.

Only strong evidence drops a page (no text, a bare list of links, a few words, listing markup
over a link-heavy text); it still has its WARC capture, it just yields no text record. Doubtful
pages are stored with `page_type` (article, liveblog, listing, video, paywall, uncertain) and
`page_type_reason`, so researchers can filter them.
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
# Paywall prompts, lower case. Plain substrings: one regex alternation over a whole page's
# text cost ~20 ms a page; `in` over the lower-cased text costs well under 1 ms.
PAYWALL_PHRASES = (
    "subscribe to continue", "subscribe to read", "for subscribers only", "subscriber only",
    "subscribers only", "already a subscriber", "to continue reading",
    "this article is for subscribers", "jetzt abonnieren", "nur für abonnenten",
    "weiterlesen mit", "réservé aux abonnés", "article réservé", "abonnez-vous",
    "solo para suscriptores", "exclusivo para suscriptores", "suscríbete",
)  # fmt: skip
# A paywalled or video page with at least this much text is read as a whole article.
FULL_TEXT_CHARS = 1500
# Below this share of the minimum article size a text is a caption or a stub: dropped.
STUB_SHARE = 0.25
# Listing markup drops a page only when this share of its text is also link text.
LISTING_LINKED_SHARE = 0.2
# Han, kana and Hangul syllables: one such character carries about as much as a short word.
WIDE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
WIDE_CHAR_WEIGHT = 3
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
        # og:type "website" with a JSON-LD WebSite object says nothing: nearly every site emits
        # both on every page, articles included.
        listing = bool(self.types & LISTING_TYPES - {"WebSite"})
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
    body_text = body_text.lower()
    signals.paywall_prompt = any(phrase in body_text for phrase in PAYWALL_PHRASES)
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
    if LISTING_PATH.search(parts.path) or query & SEARCH_PARAMS:
        return True
    # The site's root is its front page, unless a query names one item ("/?p=123").
    return parts.path in ("", "/") and not parts.query


def text_size(text: str) -> int:
    """Length in Latin-script characters: a Han, kana or Hangul character counts as three, so a
    whole Japanese article (~400 characters) is not "too short" by a Latin measure."""
    return len(text) + (WIDE_CHAR_WEIGHT - 1) * len(WIDE_SCRIPT.findall(text))


@dataclass(frozen=True)
class PageType:
    """`kind` is stored in the record; `dropped` pages yield no text record."""

    kind: str  # article, liveblog, listing, video, paywall, uncertain
    reason: str | None = None  # why the kind is not plain "article"
    dropped: bool = False


def classify(text: str, url: str, signals: PageSignals, min_chars: int) -> PageType:
    """The page's kind from its text and markup; drops a page only on strong evidence."""
    size = text_size(text)
    if size < STUB_SHARE * min_chars:
        return PageType("uncertain", "too_short", dropped=True)
    linked = linked_line_share(text, signals.link_texts)
    if linked > MAX_LINKED_LINE_SHARE:
        return PageType("listing", "link_list", dropped=True)  # never an article
    if signals.declares_listing and linked > LISTING_LINKED_SHARE:
        return PageType("listing", "listing_markup", dropped=True)
    if "LiveBlogPosting" in signals.types:
        return PageType("liveblog")
    if (signals.not_free or signals.paywall_prompt) and len(text) < FULL_TEXT_CHARS:
        return PageType("paywall", "paywall_stub")
    if signals.declares_video and len(text) < FULL_TEXT_CHARS:
        return PageType("video", "video")
    if signals.declares_listing:
        return PageType("listing", "listing_markup")
    if not signals.declares_article and (signals.teasers >= 4 or is_listing_url(url)):
        return PageType("uncertain", "listing_page")
    if size < min_chars:
        return PageType("uncertain", "too_short")
    return PageType("article")
