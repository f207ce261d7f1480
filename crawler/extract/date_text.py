"""Dates as pages write them for readers ("12. März 2019", "March 12, 2019", "3 de mayo de
2022", "05.02.2020"), and the date a page shows beside its headline.

The visible date is what a reader takes for the article's date; structured data often carries
another one (the CMS's first save, a UTC time that falls on the next day, a re-publication).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from lxml import html as lxml_html

# Month names and common abbreviations: English, German, French, Spanish, Italian, Dutch,
# Portuguese. Abbreviations that are also common words ("set", "out", "ago", "gen") are left out.
_MONTH_NAMES = (
    "january jan januar jänner jän janvier enero ene gennaio januari janeiro",
    "february feb februar feber février fevrier févr fevr febrero febbraio februari fevereiro fev",
    "march mar märz maerz mär mrz mars marzo maart março marco",
    "april apr avril avr abril aprile",
    "may mai mayo maggio mag mei maio",
    "june jun juni juin junio giugno giu junho",
    "july jul juli juillet juil julio luglio lug julho",
    "august aug août aout agosto augustus",
    "september sep sept septembre septiembre settembre setembro",
    "october oct oktober okt octobre octubre ottobre ott oktober outubro",
    "november nov novembre noviembre novembro",
    "december dec dezember dez décembre decembre déc diciembre dic dicembre dezembro",
)
MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names.split()}
_YEAR = r"(?:19|20)\d{2}"
TEXT_DATE = re.compile(
    # 12. März 2019, 3 de mayo de 2022, 1er janvier 2019, 7 April 2020
    rf"(?<![\w.])(?P<d1>[0-3]?\d)(?:\.|er|st|nd|rd|th)?\s*(?:de\s+|of\s+)?(?P<m1>[^\W\d_]{{3,}})\.?,?"
    rf"\s+(?:de\s+)?(?P<y1>{_YEAR})(?!\d)"
    # March 12, 2019; Mar. 12 2019
    rf"|(?<![\w])(?P<m2>[^\W\d_]{{3,}})\.?\s+(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y2>{_YEAR})(?!\d)"
    # 2019-03-12
    rf"|(?<![\d.])(?P<y3>{_YEAR})-(?P<m3>[01]?\d)-(?P<d3>[0-3]?\d)(?![\d])"
    # 12.03.2019, 12.3.19, 12/03/2019, 12-03-2019
    rf"|(?<![\d.,/])(?P<d4>[0-3]?\d)(?P<sep>[./-])(?P<m4>[0-3]?\d)(?P=sep)(?P<y4>{_YEAR}|\d{{2}})(?![\d/-]|\.\d)",
    re.IGNORECASE,
)
# Elements whose text is never shown
INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title", "select"})
# <h1> elements looked at for the headline
MAX_HEADINGS = 5
# Words besides the date a date line has at most (labels, author names, place, time).
LINE_WORDS = 6
LETTER_WORDS = re.compile(r"[^\W\d_]{2,}")
WORDS = re.compile(r"\w+")
# How much shown text after the headline a date may stand in to count as the headline's date
# (the byline and date line, not the first paragraphs), and before it (a kicker or a blog's
# date header: at most 4 text nodes).
WINDOW_CHARS = 300
ABOVE_CHARS = 80
# A <time> marked as the publication (beside a theme's hidden "updated" one)
PUBLISHED_TIME_XPATH = (
    "time[contains(concat(' ', @class, ' '), ' published ') or @itemprop='datePublished']"
)
# Page parts a date above the headline must not come from unless they hold the headline too
CHROME_TAGS = frozenset({"header", "nav", "aside", "footer"})
ABOVE_XPATH = (
    "preceding::text()[normalize-space()][not(ancestor::script or ancestor::style)]"
    "[position() <= 4]"
)


@dataclass(frozen=True)
class Shown:
    """A date shown beside the headline: its day (and the other reading of an ambiguous
    numeric date such as 11/01/2021), the <time> element's machine-readable value when it came
    from one, whether the reader sees the date itself (not only a time of day whose date sits
    in an attribute), and whether it stands above the headline rather than below."""

    day: date
    other_reading: date | None = None
    datetime: str | None = None
    visible: bool = True
    above: bool = False

    @property
    def readings(self) -> tuple[date, ...]:
        return (self.day, self.other_reading) if self.other_reading else (self.day,)


def parse_text_date(text: str, month_first: bool = False) -> date | None:
    """The first date written in ``text``; ``month_first`` reads 03/12/2019 as 12 March."""
    for found, _, _ in text_dates(text, month_first):
        return found
    return None


def text_dates(
    text: str, month_first: bool = False
) -> Iterator[tuple[date, date | None, re.Match[str]]]:
    """(date, its other reading when day and month could be swapped, the match)."""
    for match in TEXT_DATE.finditer(text):
        groups = match.groupdict()
        try:
            if groups["y1"] or groups["y2"]:
                month = MONTHS.get((groups["m1"] or groups["m2"]).casefold())
                if month is None:
                    continue
                day = int(groups["d1"] or groups["d2"])
                yield date(int(groups["y1"] or groups["y2"]), month, day), None, match
            elif groups["y3"]:
                yield date(int(groups["y3"]), int(groups["m3"]), int(groups["d3"])), None, match
            else:
                yield (*_numeric(groups, month_first), match)
        except ValueError:
            continue


def _numeric(groups: dict[str, str], month_first: bool) -> tuple[date, date | None]:
    first, second, year = int(groups["d4"]), int(groups["m4"]), int(groups["y4"])
    year += 2000 if year < 100 else 0
    if second > 12 >= first or (groups["sep"] == "/" and month_first and first <= 12):
        first, second = second, first  # 12/31/2019 is month-first whatever the page
    ambiguous = first <= 12 and second <= 12 and first != second
    return date(year, second, first), date(year, first, second) if ambiguous else None


def _line_date(line: str, month_first: bool) -> tuple[date, date | None] | None:
    """The date of a date line ("Von Anna Muster · 31. Oktober 2023", "Updated May 6, 2019");
    none for a sentence that mentions a date ("Der nächste Stammtisch findet am 5. Februar
    2020 ab 19 Uhr im")."""
    for found, other, match in text_dates(line, month_first):
        rest = line[: match.start()] + " " + line[match.end() :]
        return (found, other) if len(LETTER_WORDS.findall(rest)) <= LINE_WORDS else None
    return None


def headline(
    tree: lxml_html.HtmlElement, titles: tuple[str | None, ...] = ()
) -> lxml_html.HtmlElement | None:
    """The <h1> sharing the most words with the page's titles (a logo's <h1> names only the
    site, a kicker may be glued to the headline), else the first <h1>. Those in navigation
    or breadcrumbs are not headlines (as in crawler.extract.titles)."""
    found = []
    for heading in tree.iter("h1"):
        if not heading.text_content().strip() or any(
            node.tag == "nav" or "breadcrumb" in (node.get("class") or "").lower()
            for node in heading.iterancestors()
        ):
            continue
        found.append(heading)
        if len(found) == MAX_HEADINGS:
            break
    if len(found) < 2:
        return found[0] if found else None
    named = set(WORDS.findall(" ".join(t for t in titles if t).casefold()))
    shared = [len(set(WORDS.findall(h.text_content().casefold())) & named) for h in found]
    return found[shared.index(max(shared))]


def _shown_after(element: lxml_html.HtmlElement) -> Iterator[tuple[str, lxml_html.HtmlElement]]:
    """(text, the element it belongs to) in document order after ``element`` (its own text
    excluded), skipping what a browser does not show."""
    node = element
    while node is not None:
        if node.tail:
            yield node.tail, node.getparent()
        for sibling in node.itersiblings():
            for sub in sibling.iter():
                if not isinstance(sub.tag, str):
                    if sub.tail:
                        yield sub.tail, sub.getparent()
                    continue
                if sub.tag not in INVISIBLE and (sub.text or sub.tag == "time"):
                    yield sub.text or "", sub
                if sub.tail and sub is not sibling:
                    yield sub.tail, sub.getparent()
            if sibling.tail:
                yield sibling.tail, sibling.getparent()
        node = node.getparent()


def headline_date(
    tree: lxml_html.HtmlElement, titles: tuple[str | None, ...] = (), month_first: bool = False
) -> Shown | None:
    """The date shown right below the headline (its byline or date line), else right above."""
    heading = headline(tree, titles)
    if heading is None:
        return None
    seen = 0
    for text, owner in _shown_after(heading):
        shown = text.strip()
        value = owner.get("datetime") if owner is not None and owner.tag == "time" else None
        if value and _hidden_update(owner):
            continue
        if value and (found := parse_text_date(value.strip()[:10])):
            visible = parse_text_date(owner.text_content(), month_first) is not None
            return Shown(found, None, value.strip(), visible)
        if line := _line_date(shown, month_first):
            return Shown(*line)
        seen += len(shown)
        if seen > WINDOW_CHARS:
            break
    return _date_above(heading, month_first)


def _hidden_update(element: lxml_html.HtmlElement) -> bool:
    """A theme's "updated" <time> beside a "published" one (WordPress's posted-on: the theme's
    CSS hides the "updated" one until the post is edited)."""
    marks = f" {element.get('class', '')} {element.get('itemprop', '')} ".lower()
    if " updated " not in marks and " datemodified " not in marks:
        return False
    parent = element.getparent()
    return parent is not None and bool(parent.xpath(PUBLISHED_TIME_XPATH))


def _date_above(heading: lxml_html.HtmlElement, month_first: bool) -> Shown | None:
    """A date line just above the headline (a blog's date header, a kicker with the date);
    the first of them when there are two ("28. Juni 2025", "Akt.: 29. Juni 2025")."""
    texts, seen = [], 0
    article = next(heading.iterancestors("article"), None)
    for text in reversed(heading.xpath(ABOVE_XPATH)):
        owner = text.getparent()  # for a tail, the element before it: its parent holds it
        if _outside(owner.getparent() if text.is_tail else owner, heading, article):
            break  # the page's header or a "today" widget, not the article's own date
        texts.append(text.strip())
        seen += len(texts[-1])
        if seen > ABOVE_CHARS:
            break
    for text in reversed(texts):
        if line := _line_date(text, month_first):
            return Shown(*line, above=True)
    return None


def _outside(
    element: lxml_html.HtmlElement | None,
    heading: lxml_html.HtmlElement,
    article: lxml_html.HtmlElement | None,
) -> bool:
    """Whether text in ``element`` belongs to another part of the page than the headline: an
    <article> the headline is in does not hold it, or a page <header>, <nav> or <aside> does."""
    if element is None:
        return True
    ancestors = list(element.iterancestors())
    if article is not None and article is not element and article not in ancestors:
        return True
    return any(
        node.tag in CHROME_TAGS and heading not in node.iterdescendants()
        for node in [element, *ancestors]
    )
