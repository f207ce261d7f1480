"""The project's own boilerplate rules, applied around trafilatura.

Two passes: `prune_chrome` removes page chrome from the tree before trafilatura sees it (so its
text and its date search both miss it), and `clean_text` drops the teaser and credit lines that
sit inside article bodies as ordinary paragraphs ("May You Like: ...", "Lesen Sie auch: ...").

Image captions are dropped, always: they repeat alt text and carry credits, and a researcher
counting words or training on article text does not want them.
"""

from __future__ import annotations

import re

from lxml import html as lxml_html

# Tokens of class/id values (split on space, "-" and "_") that name chrome blocks.
CHROME_TOKENS = frozenset(
    (
        "share sharing sharedaddy sharebar social socials newsletter newsletters subscribe "
        "subscription signup related relatedposts recommended recommendations recirc readnext "
        "popular trending mostread mostpopular comments comment respond disqus cookie cookies "
        "consent gdpr breadcrumb breadcrumbs crumbs ticker advert advertisement advertising ad "
        "ads adslot promo sponsored outbrain taboola sidebar widget today"
    ).split()
)
# Multi-token names that are chrome only as a whole ("read-more" yes; "more" alone no).
CHROME_NAMES = re.compile(
    r"(?:^|[\s_-])(?:td[_-]data[_-]time|current[_-]date|date[_-]today|today[_-]date|"
    r"header[_-]date|top[_-]?bar[_-]date|read[_-]more|more[_-]stories|read[_-]next|"
    r"you[_-]may[_-]like|also[_-]read|most[_-]read|most[_-]popular|post[_-]tags|tag[_-]list|"
    r"author[_-]box|about[_-]author|jp[_-]relatedposts|wp[_-]block[_-]latest[_-]posts|"
    r"comment[_-]respond|comments[_-]area)(?:$|[\s_-])",
    re.IGNORECASE,
)
CHROME_TAGS = ("form", "figcaption", "button", "dialog", "noscript", "template", "amp-ad")
CHROME_ROLES = frozenset({"complementary", "dialog", "alertdialog", "banner", "navigation"})
_TOKEN_SPLIT = re.compile(r"[\s_-]+")
# Never prune an element holding more than this share of the page's paragraph text.
MAX_PRUNED_SHARE = 0.4

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
    r".{0,100}\bin your inbox\b.{0,60}\b(?:sign up|subscribe)\b.{0,40})$",
    re.IGNORECASE,
)
MAX_TEASER_LINE = 250


def _class_tokens(element: lxml_html.HtmlElement) -> set[str]:
    names = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return set(_TOKEN_SPLIT.split(names)) - {""}


def is_chrome(element: lxml_html.HtmlElement) -> bool:
    if element.tag in CHROME_TAGS:
        return True
    if (element.get("role") or "").lower() in CHROME_ROLES:
        return True
    names = f"{element.get('class', '')} {element.get('id', '')}"
    return bool(_class_tokens(element) & CHROME_TOKENS or CHROME_NAMES.search(names))


def _text_len(element: lxml_html.HtmlElement) -> int:
    return sum(len(t.strip()) for t in element.xpath(".//p//text()"))


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


def prune_chrome(tree: lxml_html.HtmlElement) -> int:
    """Remove chrome blocks and stand-alone date widgets in place; returns how many."""
    total = _text_len(tree) or 1
    doomed = []
    body = tree.find("body")
    before_h1 = True  # stays so on pages without an <h1>
    for element in tree.iter("*"):
        if not isinstance(element.tag, str) or element is tree or element is body:
            continue
        if element.tag == "h1":
            before_h1 = False
        if element.tag in ("article", "main"):
            continue  # the content container itself, whatever its class says
        chrome = is_chrome(element) and _text_len(element) / total <= MAX_PRUNED_SHARE
        if chrome or (before_h1 and is_date_widget(element)):
            doomed.append(element)
    doomed_set = set(doomed)
    pruned = 0
    for element in doomed:
        if not any(a in doomed_set for a in element.iterancestors()):
            element.drop_tree()  # keeps the tail text that follows the element
            pruned += 1
    return pruned


def is_boilerplate_line(line: str) -> bool:
    if len(line) > MAX_TEASER_LINE:
        return False
    return bool(TEASER_LINE.match(line) or TEASER_ONLY.match(line) or NOISE_LINE.match(line))


def is_author_bio(line: str, authors: list[str]) -> bool:
    """'Jane Roe is the Review's transport correspondent. ...' after the article."""
    if len(line) > 300:
        return False
    return any(re.match(rf"{re.escape(a)} (?:is|ist|est|es|was) ", line) for a in authors)


def clean_text(text: str, title: str | None = None, author: str | None = None) -> str:
    """Drop teaser/credit/noise lines, author bios and a leading copy of the headline."""
    authors = [a for a in (author or "").split("; ") if a]
    lines = [" ".join(line.split()) for line in text.splitlines()]
    kept = [
        line
        for line in lines
        if line and not is_boilerplate_line(line) and not is_author_bio(line, authors)
    ]
    if title and kept and kept[0].casefold() == " ".join(title.split()).casefold():
        kept = kept[1:]
    return "\n".join(kept)
