"""What kind of page this is: decided before a page is stored, erring toward keeping.

Only strong evidence drops a page (no text, a bare list of links, a few words, listing markup
over a link-heavy text); it still has its WARC capture, it just yields no text record. Doubtful
pages are stored with `page_type` (article, liveblog, listing, video, paywall, uncertain) and
`page_type_reason`, so researchers can filter them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.extract.metadata import ARTICLE_TYPES, PageData, types_of

# schema.org types that mark listing pages (home, section, tag, author, search).
LISTING_TYPES = frozenset(
    {"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage", "WebSite"}
)
VIDEO_TYPES = frozenset({"VideoObject", "VideoGallery"})
# Teaser blocks on listing pages, one per linked story: an <article> holding a link, a
# ".teaser", a ".card" holding a link. Counted in one pass over the tree (a union of three paths
# walked it three times); `contains(@class, ...)` first spares most elements the token test.
_TEASER_CLASS = (
    "contains(@class, '{0}') and contains(concat(' ', normalize-space(@class), ' '), ' {0} ')"
)
TEASER_COUNT = etree.XPath(
    f"count(//*[self::article[.//a[@href]] or ({_TEASER_CLASS.format('teaser')})"
    f" or ({_TEASER_CLASS.format('card')} and .//a[@href])])"
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
# A page that declares itself an article (JSON-LD, og:type) is a short post, not a stub, down
# to this share: a blog's few lines of dialogue or a one-paragraph notice are its whole text.
DECLARED_STUB_SHARE = 0.1
# Listing markup drops a page only when this share of its text is also link text.
LISTING_LINKED_SHARE = 0.35
# A text this long with at most this share of link text is prose: not a listing's text.
PROSE_LINKED_SHARE = 0.05
# Han, kana and Hangul syllables: one such character carries about as much as a short word.
WIDE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
WIDE_CHAR_WEIGHT = 3
# An index page's extracted text is mostly headlines that are also link texts (see linked_share).
MAX_LINKED_SHARE = 0.5
# Headline-long link texts (>= LINKED_TEXT_CHARS) quoted in the text: a teaser list whose blurbs
# keep the link share low still quotes one per story. Real articles on ../shared/newsbench quote
# at most 25; from MANY_LINKED_TEXTS it is a listing signal, from ALL_LINKED_TEXTS the page is
# a listing outright. Only the first LINK_TEXTS_READ link texts are looked for (bounded cost).
LINKED_TEXT_CHARS = 20
MANY_LINKED_TEXTS = 50
ALL_LINKED_TEXTS = 100
LINK_TEXTS_READ = 3000


@dataclass
class PageSignals:
    """What the markup says about a page before its text is judged."""

    types: set[str] = field(default_factory=set)
    og_type: str = ""
    teasers: int = 0
    not_free: bool = False
    paywall_prompt: bool = False

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
    signals.teasers = int(TEASER_COUNT(tree))
    body_text = tree.xpath("string(//body)")
    body_text = body_text.lower()
    signals.paywall_prompt = any(phrase in body_text for phrase in PAYWALL_PHRASES)
    return signals


def linked_share(text: str, links: list[str]) -> float:
    """Share of the text's characters that are the text of some link on the page (``links``
    longest first): a headline list is nearly all link text, however trafilatura laid it out;
    articles with inline links stay under a third (at most 0.30 on ../shared/newsbench)."""
    flat = " ".join(text.split())
    rest = flat
    for link in links:
        if link in rest:
            rest = rest.replace(link, " ")
    total = len(flat.replace(" ", ""))
    return (total - len(rest.replace(" ", ""))) / total if total else 0.0


def linked_texts(text: str, links: list[str]) -> int:
    """How many distinct headline-long link texts the text quotes (counted up to
    ALL_LINKED_TEXTS)."""
    found = 0
    for link in dict.fromkeys(links[:LINK_TEXTS_READ]):
        if len(link) >= LINKED_TEXT_CHARS and link in text:
            found += 1
            if found >= ALL_LINKED_TEXTS:
                break
    return found


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


# A live blog's address: a path segment or slug word naming one ("/live/", "liveblog",
# "live-updates", "newsticker"); a bare "live" inside a slug ("how-to-live-longer") is not one.
LIVEBLOG_URL = re.compile(
    r"/live/|(?:^|[/_-])(?:live-?blog|live-?updates|live-?ticker|news-?ticker)(?:$|[/_.-])",
    re.IGNORECASE,
)
# An article's URL: a slug of several words, a long numeric id, or a date in the path.
SLUG_WORDS = 3
ARTICLE_ID = re.compile(r"\d{5,}")
PATH_DATE = re.compile(r"/(?:19|20)\d{2}/\d{1,2}/|(?:19|20)\d{2}-\d{2}-\d{2}")


def looks_like_article_url(url: str) -> bool:
    """`/world/2026/11/20/ferry-strike-ends/`, `/news/ferry-strike-ends-after-nine-days`,
    `/a/552903.html`, `/news/view.php?id=552903` yes; `/world/`, `/business/markets/` no (a
    section's address)."""
    parts = urlsplit(url)
    path = parts.path
    if PATH_DATE.search(path) or ARTICLE_ID.search(path):
        return True
    # a script that serves every story names it by a long id in its query
    # ("news_view.htm?lang=e&Seq_Code=181595", "article.php?id=48213")
    if any(ARTICLE_ID.fullmatch(v) for vs in parse_qs(parts.query).values() for v in vs):
        return True
    last = next((part for part in reversed(path.split("/")) if part), "")
    words = re.split(r"[-_+.]+", last.rsplit(".", 1)[0] if "." in last else last)
    return len([w for w in words if w]) >= SLUG_WORDS


def classify(
    text: str, url: str, signals: PageSignals, min_chars: int, links: list[str], raw: str = ""
) -> PageType:
    """The page's kind from its text and markup (``links``: the page's link texts, longest
    first; ``raw``: the text before teaser lines were cut, where a headline list still shows).
    Drops a page only on strong evidence: no real text, a text that is nearly all links, or
    two listing signals (a listing URL, a URL that is no article's, teaser blocks, markup,
    link-heavy text) on a page that does not declare itself an article. One signal alone
    (other than the URL) stores it as doubtful."""
    size = text_size(text)
    stub_share = DECLARED_STUB_SHARE if signals.declares_article else STUB_SHARE
    if size < stub_share * min_chars:
        return PageType("uncertain", "too_short", dropped=True)
    linked = max(linked_share(text, links), linked_share(raw, links) if raw else 0.0)
    quoted = linked_texts(text, links)
    if linked > MAX_LINKED_SHARE or quoted >= ALL_LINKED_TEXTS:
        return PageType("listing", "link_list", dropped=True)  # never an article
    listing_signals = (
        is_listing_url(url),
        signals.teasers >= 4,
        signals.declares_listing,
        linked > LISTING_LINKED_SHARE,
        quoted >= MANY_LINKED_TEXTS,
    )
    # A URL that is no article's (a section's `/world/`) only corroborates another signal.
    section_url = not looks_like_article_url(url)
    # Running prose that hardly quotes a link is no listing's text, whatever the address and
    # the teaser blocks around it say: such a page is stored, marked doubtful below.
    prose = size >= FULL_TEXT_CHARS and linked <= PROSE_LINKED_SHARE and not quoted
    if not signals.declares_article and not prose and sum(listing_signals) + section_url >= 2:
        reason = "listing_markup" if signals.declares_listing else "listing_page"
        return PageType("listing", reason, dropped=True)
    if "LiveBlogPosting" in signals.types or LIVEBLOG_URL.search(urlsplit(url).path):
        return PageType("liveblog")
    if (signals.not_free or signals.paywall_prompt) and len(text) < FULL_TEXT_CHARS:
        return PageType("paywall", "paywall_stub")
    if signals.declares_video and len(text) < FULL_TEXT_CHARS:
        return PageType("video", "video")
    if signals.declares_listing:
        return PageType("listing", "listing_markup")
    if not signals.declares_article and any(listing_signals):
        return PageType("uncertain", "listing_page")
    if size < min_chars:
        return PageType("uncertain", "too_short")
    return PageType("article")
