"""The project's own boilerplate rules, applied around trafilatura.

Two passes: `prune_chrome` removes page chrome from the tree before trafilatura sees it (so its
text and its date search both miss it), and `clean_text` drops the teaser and credit lines that
sit inside article bodies as ordinary paragraphs ("May You Like: ...", "Lesen Sie auch: ...").

Image captions are dropped, always: they repeat alt text and carry credits, and a researcher
counting words or training on article text does not want them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from lxml import etree
from lxml import html as lxml_html

from crawler.extract.edges import strip_header, strip_summary, strip_trailer
from crawler.extract.pagetype import PAYWALL_PHRASES
from crawler.extract.teasers import drop_teasers

# Tokens of class/id values (split on space, "-" and "_") that name chrome blocks. A block so
# named goes, unless it holds much of the page's text (see MAX_PRUNED_SHARE).
CHROME_TOKENS = frozenset(
    (
        "share sharing sharedaddy sharebar social socials newsletter newsletters subscribe "
        "subscription signup related relatedposts recommended recommendations recirc readnext "
        "popular trending mostread mostpopular comments respond disqus cookie cookies "
        "consent gdpr breadcrumb breadcrumbs crumbs ticker advert advertisement advertising "
        "adslot promo sponsored outbrain taboola sidebar today"
    ).split()
)
# Tokens that also name content containers in page builders and CMS themes ("widget" in
# `article-widget-text`, `div.widget.Blog`; "comment" in opinion sections; "ad"/"ads" in
# abbreviations): such a block goes only when it does not read as prose (see `is_prose`).
WEAK_CHROME_TOKENS = frozenset("widget widgets comment ad ads".split())
# Multi-token names that are chrome only as a whole ("read-more" yes; "more" alone no).
CHROME_NAMES = re.compile(
    r"(?:^|[\s_-])(?:td[_-]data[_-]time|current[_-]date|date[_-]today|today[_-]date|"
    r"header[_-]date|top[_-]?bar[_-]date|read[_-]more|more[_-]stories|read[_-]next|"
    r"you[_-]may[_-]like|also[_-]read|most[_-]read|most[_-]popular|post[_-]tags|tag[_-]list|"
    r"author[_-]box|about[_-]author|jp[_-]relatedposts|wp[_-]block[_-]latest[_-]posts|"
    r"comment[_-]respond|comments[_-]area)(?:$|[\s_-])",
    re.IGNORECASE,
)
# <form> is not here: ASP.NET and some CMSs wrap the whole page in one.
CHROME_TAGS = ("figcaption", "button", "dialog", "noscript", "template", "amp-ad")
CHROME_ROLES = frozenset({"complementary", "dialog", "alertdialog", "banner", "navigation"})
_TOKEN_SPLIT = re.compile(r"[\s_-]+")
# Never prune an element holding more than this share of the page's text (all text, not only
# <p>: posts written as <div>/<br> text count too).
MAX_PRUNED_SHARE = 0.4
# Prose: at least this much text, of which at most this share is link text.
PROSE_MIN_CHARS = 400
PROSE_MAX_LINK_SHARE = 0.25

WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    r"lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo"
)
# "Thursday, February 29, 2024" / "Donnerstag, 29. Februar 2024": a "today" widget when it
# stands alone outside the article.
DATE_WIDGET = re.compile(rf"^(?:{WEEKDAYS})\b[\s,.]*[\w\s.,]{{4,30}}\d{{4}}$", re.IGNORECASE)

TEASER_LINE = re.compile(
    r"^(?:may you like|you may (?:also )?like|you might (?:also )?like|also read|read also|"
    r"read more|read next|related(?: articles?| stories| coverage| content| posts?)?|see also|"
    r"recommended(?: for you| reading)?|more on this(?: story)?|more from [\w\s]{1,30}|"
    r"don'?t miss|must read|trending(?: now)?|most (?:popular|read)|editor'?s picks?|"
    r"lesen sie (?:auch|mehr)|mehr zum thema|auch interessant|"
    r"das könnte sie auch interessieren|weiterlesen|empfehlungen|"
    r"[àa] lire (?:aussi|également)|lire aussi|[àa] voir aussi|sur le même sujet|lire la suite|"
    r"nos recommandations|lee también|también te puede interesar|te puede interesar|"
    r"leer más|relacionad[oa]s?|más información|noticias relacionadas|"
    r"leggi anche|potrebbe interessarti|lees ook|lees meer|zie ook)\b\s*[:：\-–—|»>]",
    re.IGNORECASE,
)
TEASER_ONLY = re.compile(TEASER_LINE.pattern.replace(r"\b\s*[:：\-–—|»>]", r"\s*[:：]?$"), re.I)
NOISE_LINE = re.compile(
    r"^(?:advertisement|anzeige|werbung|publicité|publicidad|sponsored(?: content)?|"
    r"share(?: this(?: article| story)?| on \w+)?|tweet|email|print|copy link|"
    r"(?:photo|image|picture|credit|foto|bild|crédits?|imagen|video)s?(?: credit)?\s*[:©].{0,120}|"
    r"©.{0,80}|(?:sign up|subscribe)\b.{0,120}\bnewsletter\b.{0,80}|"
    r".{0,60}\bnewsletter\b.{0,40}(?:sign up|subscribe).{0,40}|"
    r"we use cookies\b.{0,300}|leave a (?:reply|comment)|please enter your (?:comment|name).{0,20}|"
    r"save my name, email.{0,80}|you have entered an incorrect email address.{0,5}|"
    r"(?:published|(?:last )?updated) \d+ (?:minutes?|hours?|days?) ago|refresh|"
    r"show \d+ new updates?|(?:have you )?got a (?:story|news tip)\b.{0,200}|"
    r".{0,100}\bin your inbox\b.{0,60}\b(?:sign up|subscribe)\b.{0,40}|"
    # placeholders of embeds waiting for consent, of ad slots ("$$ARTICLEAD$$") and CMS markup
    # tokens leaked into a declared body ("+++dropcap")
    r"ein klick für den datenschutz|link zum [\w-]{2,30}[- ]inhalt|"
    r"(?:externer|eingebetteter) inhalt|\$\$\w+\$\$|\[\[\w+\]\]|\+{2,}\w*|"
    # an image's source credit on a line of its own ("Quelle: AFP", "Source: Reuters")
    r"(?:quelle|source|fuente|fonte|kilde|källa|bron)\s*:\s*[\w ./,&-]{1,40})$",
    re.IGNORECASE,
)
# Paywall and account prompts left inside a text, lower case (short lines only).
PAYWALL_LINE_PHRASES = (
    *PAYWALL_PHRASES, "tu suscripción", "il vous reste", "la suite est réservée",
    "create an account to continue", "log in to continue", "会員限定", "有料会員",
    "jetzt kostenlos testen", "kostenlos testen", "abo abschließen",
)  # fmt: skip
MAX_PROMPT_LINE = 200
# A short line promoting the outlet's own channels: newsletter, messaging channel, app, e-paper,
# social accounts ("Follow X on Google News", "Folgst du schon X auf Whatsapp?").
PROMO_PHRASES = (
    "newsletter", "auf whatsapp", "whatsapp-kanal", "whatsapp channel", "google news",
    "follow us", "folg uns", "folgen sie uns", "suivez-nous", "síguenos", "seguici",
    "for the latest breaking news", "for the latest news", "in your inbox",
    "our website is the place", "check out more of", "push-nachrichten", "download the app",
    "app herunterladen", "e-paper",
)  # fmt: skip
FOLLOW_ON = re.compile(
    r"\bfollow \S+(?: \S+)? on (?:twitter|facebook|instagram|google|x|threads|bluesky)\b"
)
MAX_PROMO_LINE = 250
MAX_TEASER_LINE = 250
CLOSING_LINES = 3  # an author's bio stands among a text's last lines


def chrome_kind(element: lxml_html.HtmlElement) -> str | None:
    """"strong" for a block that is page chrome by its tag, role or name; "weak" for one whose
    name is chrome only when its content is not prose; None otherwise."""
    if element.tag in CHROME_TAGS:
        return "strong"
    get = element.get  # called for every element of every page: kept lean
    role = get("role")
    if role and role.lower() in CHROME_ROLES:
        return "strong"
    names, ident = get("class"), get("id")
    if ident is not None:
        names = f"{names or ''} {ident}"
    return _name_kind(names) if names else None


@lru_cache(maxsize=4096)
def _name_kind(names: str) -> str | None:
    """Cached per class/id string: pages repeat the same few hundred of them."""
    tokens = set(_TOKEN_SPLIT.split(names.lower())) - {""}
    if tokens & CHROME_TOKENS or CHROME_NAMES.search(names):
        return "strong"
    return "weak" if tokens & WEAK_CHROME_TOKENS else None


# Text that is never read as page text: scripts, styles, templates.
_HIDDEN_TEXT = frozenset({"script", "style", "noscript", "template"})
# The text nodes `_text_len` counts, collected by libxml2 (a Python walk over every node cost
# ~5 ms a page): all in the element but a hidden element's own leading text (`.text`), whose
# children's tails still count.
_VISIBLE_TEXT = etree.XPath(
    "descendant::text()[not((parent::script or parent::style or parent::noscript or "
    "parent::template) and not(preceding-sibling::node()))]",
    smart_strings=False,
)


def _text_len(element: lxml_html.HtmlElement) -> int:
    """Characters of visible text in the element (whitespace ignored): the stripped lengths of
    its .text and of each descendant's .text and .tail, hidden elements' .text left out."""
    return sum(len(text.strip()) for text in _VISIBLE_TEXT(element))


def _text_len_at_most(element: lxml_html.HtmlElement, limit: float) -> bool:
    """`_text_len(element) <= limit`, settled without counting when all the element's text,
    hidden and whitespace included (one libxml2 call), is within the limit already."""
    return len(element.text_content()) <= limit or _text_len(element) <= limit


def is_chrome(element: lxml_html.HtmlElement) -> bool:
    kind = chrome_kind(element)
    return kind == "strong" or (kind == "weak" and not is_prose(element))


def is_prose(element: lxml_html.HtmlElement) -> bool:
    """Running text rather than a list of links: enough text, little of it inside links."""
    if len(element.text_content()) < PROSE_MIN_CHARS:
        return False  # all its text, hidden and whitespace included, is short already
    total = _text_len(element)
    if total < PROSE_MIN_CHARS:
        return False
    linked = sum(_text_len(a) for a in element.iter("a"))
    return linked / total <= PROSE_MAX_LINK_SHARE


def is_date_widget(element: lxml_html.HtmlElement) -> bool:
    """A leaf outside any <article> whose whole text is a weekday-led date: a "today" line.
    (Only asked of elements before the page's first <h1>: a byline date follows the headline.)"""
    if len(element) or not element.text or element.tag in ("time", "abbr"):
        return False
    if any(element.get(a) for a in ("datetime", "content", "title")):
        return False  # a machine-readable date marks the article's own date
    if not DATE_WIDGET.match(" ".join(element.text.split())):
        return False
    return not element.xpath("ancestor::article | ancestor::time")


def content_wrappers(tree: lxml_html.HtmlElement) -> set[lxml_html.HtmlElement]:
    """The blocks around an <article> or <main> of prose (PROSE_MIN_CHARS of text): layout,
    whatever their names say ("cb-post-wrap cb-sidebar-right" is the post's column beside a
    sidebar). A sidebar's teaser <article>s hold a headline each, far less."""
    wrappers: set[lxml_html.HtmlElement] = set()
    for content in tree.iter("article", "main"):
        if not _text_len_at_most(content, PROSE_MIN_CHARS - 1):
            wrappers.update(content.iterancestors())
    return wrappers


def prune_chrome(tree: lxml_html.HtmlElement, widget_dates: list[str] | None = None) -> int:
    """Remove chrome blocks and stand-alone date widgets in place; returns how many. The text
    of each date widget is added to ``widget_dates``, for the date rules to distrust."""
    body = tree.find("body")
    total = _text_len(body if body is not None else tree) or 1
    # The "today" widget rule needs a headline to stand before: on pages without an <h1>
    # (blog themes) a weekday-led date is the post's own date header.
    first_h1 = tree.find(".//h1")
    before_h1 = first_h1 is not None
    holds_h1 = set(first_h1.iterancestors()) if first_h1 is not None else set()
    wrappers = content_wrappers(tree)
    doomed: list[lxml_html.HtmlElement] = []
    walk = etree.iterwalk(tree, events=("start",))
    for _event, element in walk:
        if element is tree or element is body:
            continue
        if element is first_h1:
            before_h1 = False
        if element.tag in ("article", "main") or element in wrappers:
            continue  # the content container itself, whatever its class says
        chrome = is_chrome(element) and _text_len_at_most(element, MAX_PRUNED_SHARE * total)
        if chrome or (before_h1 and is_date_widget(element)):
            doomed.append(element)
            walk.skip_subtree()  # its descendants go with it
            before_h1 = before_h1 and element not in holds_h1
            shown = " ".join(element.text_content().split())
            if widget_dates is not None and len(shown) < 60 and DATE_WIDGET.match(shown):
                widget_dates.append(shown)
    for element in doomed:
        element.drop_tree()  # keeps the tail text that follows the element
    return len(doomed)


def shows_date(widget: str, iso_date: str) -> bool:
    """Whether a widget's text ("Thursday, February 29, 2024", "Do, 29. Februar 2024") shows
    the day of an ISO date: its year and its day number both appear."""
    year, day = iso_date[:4], iso_date[8:10].lstrip("0")
    numbers = re.findall(r"\d+", widget)
    return year in numbers and day in [n.lstrip("0") for n in numbers]


def is_boilerplate_line(line: str) -> bool:
    if len(line) > MAX_TEASER_LINE:
        return False
    folded = line.lower()
    if len(line) <= MAX_PROMPT_LINE and any(p in folded for p in PAYWALL_LINE_PHRASES):
        return True
    if len(line) <= MAX_PROMO_LINE and (
        any(p in folded for p in PROMO_PHRASES) or FOLLOW_ON.search(folded)
    ):
        return True
    return bool(TEASER_LINE.match(line) or TEASER_ONLY.match(line) or NOISE_LINE.match(line))


def is_author_bio(line: str, authors: list[str], closing: bool = False) -> bool:
    """'Jane Roe is the Review's transport correspondent. ...' after the article; among the
    text's closing lines (``closing``), any line that opens with an author's full name."""
    if len(line) > 400:
        return False
    verbs = r"\w+" if closing else r"(?:is|ist|est|es|was)"
    return any(
        re.match(rf"{re.escape(a)},? {verbs} ", line) for a in authors if " " in a or not closing
    )


def clean_text(
    text: str,
    title: str | None = None,
    author: str | None = None,
    headlines: Iterable[str | None] = (),
    links: list[str] | None = None,
) -> str:
    """Drop teaser/credit/noise lines, author bios, teaser lists made of the page's ``links``
    (crawler.extract.teasers), the header block (kicker, headline, byline, dateline) that
    leads the text and the trailer (credits, sign-offs, promos) that ends it
    (crawler.extract.edges). ``headlines`` are the page's other headline
    forms (h1, og:title) besides ``title``."""
    authors = [a for a in (author or "").split("; ") if a]
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    kept = [
        line
        for i, line in enumerate(lines)
        if not is_boilerplate_line(line)
        and not is_author_bio(line, authors, closing=i >= len(lines) - CLOSING_LINES)
    ]
    kept = drop_teasers(kept, links or [])
    forms = [h for h in (title, *headlines) if h and h.strip()]
    return "\n".join(strip_trailer(strip_summary(strip_header(kept, forms, authors))))
