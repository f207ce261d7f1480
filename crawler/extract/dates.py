"""Publication dates: where a page states them, in which order of trust, and how to read them.

Meta tags first, then JSON-LD, the article's own markup, the URL, and htmldate's heuristics
last. The date the page shows beside its headline (crawler.extract.date_text) arbitrates: a
weaker source that contradicts it is passed over, and it replaces a structured date when it
names the same publication in the local time zone, or the update the page presents as its date.
Dates keep the publication's own UTC offset; dates after the fetch are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dateutil import parser as date_parser
from dateutil import tz
from lxml import html as lxml_html

from crawler.extract.date_text import Shown, headline_date

if TYPE_CHECKING:
    from crawler.extract.metadata import PageData

# Meta tags naming the publication time, most trusted first.
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "article.published",
    "datepublished", "parsely-pub-date", "sailthru.date", "dcterms.issued", "dc.date.issued",
    "dcterms.created", "pubdate", "publishdate", "publish-date", "publish_date",
    "og:published_time", "cxenseparse:recs:publishtime",
)  # fmt: skip
# Generic names: a page's date of any kind (a print issue's date, the last change), so they
# rank below JSON-LD's datePublished.
GENERIC_DATE_META = ("dc.date", "date")
JSONLD_PUBLISHED = ("datePublished", "dateCreated", "coverageStartTime", "uploadDate")
# RDFa / microdata on any element (Drupal's dc:date, schema.org itemprop spans).
# (@content first: only the few elements that have one are tested further, 2.0 -> 0.4 ms a page)
PUBLISHED_ATTR_XPATH = (
    "//*[@content][contains(concat(' ', @property, ' '), ' dc:created ')"
    " or contains(concat(' ', @property, ' '), ' dc:date ')"
    " or contains(@property, 'datePublished') or @itemprop='datePublished']/@content"
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
# Where an article's own <time> lives, most specific first (an XPath union would lose the
# order): marked as the publication time, in the post header/byline, in the first <article>.
ARTICLE_TIME_XPATHS = (
    "//time[@datetime][contains(@class, 'published') or @itemprop='datePublished' or @pubdate]",
    # (from each <time> up, not from every element down: the same elements, 2.7 -> 0.2 ms)
    "//time[@datetime][ancestor::*[contains(@class, 'post-header')"
    " or contains(@class, 'entry-header') or contains(@class, 'article-header')"
    " or contains(@class, 'byline') or contains(@class, 'entry-meta')"
    " or contains(@class, 'post-meta')]]",
    "(//article)[1]//time[@datetime]",
)
# WordPress themes mark the post's one date with hAtom's "updated" (tagDiv's "entry-date
# updated td-module-date"); with no other date on the page it is the post's own, unless it
# belongs to a list of other posts.
UPDATED_TIME_XPATH = (
    "(//time[@datetime][contains(concat(' ', normalize-space(@class), ' '), ' updated ')]"
    "[not(ancestor::*[contains(@class, 'related') or contains(@class, 'sidebar')"
    " or contains(@class, 'widget') or contains(@class, 'footer') or self::aside])])[1]"
)
# hAtom microformat: <abbr class="published" title="2026-01-08T09:30:00Z">
HATOM_PUBLISHED_XPATH = "//abbr[contains(concat(' ', @class, ' '), ' published ')]/@title"
# /2026/10/05/, /2017/7/12/ (unpadded), /2026-10-05-slug, /20261005/, /2024/1005/
URL_DATE = re.compile(
    r"/(20\d{2}|19\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[-_]|$)"
    r"|/(20\d{2})/?(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])/"
)
# 11.03.2026, 1.3.26: dotted numeric dates are day-first wherever they are written.
DOTTED_DATE = re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})(?![\d.])")
# Languages whose slashed dates are month-first (03/12/2019 = March 12)
MONTH_FIRST_LANGUAGES = frozenset({"en", "en-us"})
HAS_TIME = re.compile(r"\d[T\s,]\s*\d{1,2}:\d{2}")
EARLIEST_YEAR = 1990
_HOUR = 3600
# Zone abbreviations news pages print, as UTC offsets in seconds. dateutil knows only UTC/GMT
# and the machine's own zone; ambiguous ones (IST, CST in Asia) take their most common meaning.
TZ_ABBREVIATIONS = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": _HOUR, "BST": _HOUR,
    "CET": _HOUR, "CEST": 2 * _HOUR, "MEZ": _HOUR, "MESZ": 2 * _HOUR,
    "EET": 2 * _HOUR, "EEST": 3 * _HOUR, "MSK": 3 * _HOUR,
    "EST": -5 * _HOUR, "EDT": -4 * _HOUR, "CST": -6 * _HOUR, "CDT": -5 * _HOUR,
    "MST": -7 * _HOUR, "MDT": -6 * _HOUR, "PST": -8 * _HOUR, "PDT": -7 * _HOUR,
    "AKST": -9 * _HOUR, "AKDT": -8 * _HOUR, "HST": -10 * _HOUR,
    "AEST": 10 * _HOUR, "AEDT": 11 * _HOUR, "ACST": 9 * _HOUR + 1800, "AWST": 8 * _HOUR,
    "NZST": 12 * _HOUR, "NZDT": 13 * _HOUR, "JST": 9 * _HOUR, "KST": 9 * _HOUR,
    "HKT": 8 * _HOUR, "SGT": 8 * _HOUR, "IST": 5 * _HOUR + 1800, "SAST": 2 * _HOUR,
    "WAT": _HOUR, "CAT": 2 * _HOUR, "EAT": 3 * _HOUR,
}  # fmt: skip


def _tzinfo(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's tzinfos hook: known abbreviations, numeric offsets, and naive (no warning)
    for a name it cannot place."""
    if name and name.upper() in TZ_ABBREVIATIONS:
        return tz.tzoffset(name.upper(), TZ_ABBREVIATIONS[name.upper()])
    if offset is not None:
        return tz.UTC if offset == 0 else tz.tzoffset(name, offset)
    return None


def parse_date(value: Any, latest: datetime) -> tuple[datetime, bool] | None:
    """(the moment, whether the source gives a time of day) of a plausible publication date."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = date_parser.parse(
                text, fuzzy=False, tzinfos=_tzinfo, dayfirst=bool(DOTTED_DATE.search(text))
            )
        except (ValueError, OverflowError):
            return None
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if parsed.year < EARLIEST_YEAR or aware > latest:
        return None  # not a publication date: too early, or in the future
    return parsed, bool(HAS_TIME.search(text))


def _iso(parsed: tuple[datetime, bool]) -> str:
    moment, has_time = parsed
    return moment.isoformat() if has_time else moment.date().isoformat()


def normalise_date(value: Any, latest: datetime) -> str | None:
    """ISO 8601 for a date or date-time string; the time zone is kept when the source has one."""
    parsed = parse_date(value, latest)
    return _iso(parsed) if parsed else None


def _local_offset(chosen: datetime, others: list[datetime]) -> datetime:
    """``chosen`` in the publication's own offset when another source states the same moment
    with one: sites often give UTC (or a naive time) in one place and local time in another,
    and only the local one names the day the readers saw."""
    if chosen.utcoffset():
        return chosen
    for other in others:
        if not other.utcoffset():
            continue
        if chosen.tzinfo is None and chosen == other.replace(tzinfo=None):
            return other  # the naive time was the local wall-clock time
        if chosen.tzinfo is not None and abs((chosen - other).total_seconds()) < 60:
            return chosen.astimezone(other.tzinfo)
    return chosen


def url_date(url: str) -> str | None:
    match = URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    year, month, day = [g for g in match.groups() if g][:3]
    try:
        return datetime(int(year), int(month), int(day)).date().isoformat()
    except ValueError:
        return None


def shown_date(tree: lxml_html.HtmlElement, page: PageData, latest: datetime) -> Shown | None:
    """The date the page shows beside its headline, when it is a plausible publication date."""
    headline = page.article.get("headline")
    titles = (page.meta.get("og:title"), headline if isinstance(headline, str) else None,
              tree.findtext("head/title"))  # fmt: skip
    language = (tree.get("lang") or page.meta.get("og:locale") or "").lower().replace("_", "-")
    shown = headline_date(tree, titles, month_first=language in MONTH_FIRST_LANGUAGES)
    if shown is None or shown.day.year < EARLIEST_YEAR or shown.day > latest.date():
        return None
    if shown.above and shown.day >= (latest - timedelta(days=2)).date():
        return None  # above the headline and dated the day of the fetch: a "today" widget
    return shown


def _shown_iso(shown: Shown, latest: datetime) -> str:
    """The shown date, with the time of day when its <time> element gives the same day."""
    parsed = parse_date(shown.datetime, latest) if shown.datetime else None
    if parsed and parsed[0].date() == shown.day:
        return _iso(parsed)
    return shown.day.isoformat()


def _local_day(moment: datetime, day: date) -> bool:
    """Whether a UTC (or zone-less) time falls on ``day`` in a time zone news is commonly
    written in (UTC-8 to UTC+9): "2018-12-31T23:11Z" is New Year's Day in Europe,
    "2022-05-04T00:53Z" May 3rd in the Americas."""
    if moment.utcoffset():
        return False
    naive = moment.replace(tzinfo=None)
    return day in {(naive + timedelta(hours=hours)).date() for hours in (-8, 0, 9)}


def _prefer_shown(
    shown: Shown,
    chosen: tuple[datetime, bool],
    found: list[datetime],
    modified: list[datetime],
    latest: datetime,
    live_blog: bool,
) -> bool:
    """Whether the date shown beside the headline beats the structured one it contradicts."""
    moment, has_time = chosen
    parsed = parse_date(shown.datetime, latest) if shown.datetime else None
    instant = parsed[0] if parsed and parsed[1] and parsed[0].tzinfo else None

    def same(other: datetime) -> bool:
        # a precise shown time must name the same moment, not merely the same day
        if instant and other.tzinfo:
            return abs((instant - other).total_seconds()) <= 60
        return other.date() == shown.day

    if any(same(other) for other in found) or (instant and has_time and same(moment)):
        return True  # the same publication, in the page's own time zone
    if has_time and not instant and _local_day(moment, shown.day):
        return True
    # the page presents its last update as its date (a live blog's header shows its latest
    # entry, not the date it is known by)
    return shown.visible and not live_blog and any(same(m) for m in modified)


def publication_date(
    tree: lxml_html.HtmlElement,
    page: PageData,
    url: str,
    fallback: Callable[[], str | None],
    latest: datetime,
) -> tuple[str | None, str]:
    """(ISO date, where it came from), in the order of trust of issue #3; ``fallback``
    (htmldate's guess) is asked only when nothing else gives a date. The date shown beside
    the headline arbitrates: a source that contradicts it is passed over."""
    shown = shown_date(tree, page, latest)
    # Meta tags before JSON-LD: on republished and syndicated pages the JSON-LD often keeps
    # the first (or the source's) date while the meta tags carry this page's own one.
    structured = [
        *((parse_date(page.meta.get(key), latest), "meta") for key in PUBLISHED_META),
        *((parse_date(page.article.get(key), latest), "jsonld") for key in JSONLD_PUBLISHED),
    ]
    found = [(parsed, source) for parsed, source in structured if parsed]
    if found:
        (moment, has_time), source = found[0]
        if has_time:
            others = [other for (other, other_has_time), _ in found[1:] if other_has_time]
            moment = _local_offset(moment, others)
        if shown and moment.date() not in shown.readings:
            parsed = (parse_date(value, latest) for value in modified_values(page))
            modified = [m[0] for m in parsed if m]
            rest = [other for (other, _), _ in found[1:]]
            types = page.article.get("@type")
            live_blog = "LiveBlogPosting" in (types if isinstance(types, list) else [types])
            if _prefer_shown(shown, (moment, has_time), rest, modified, latest, live_blog):
                return _shown_iso(shown, latest), "time" if shown.datetime else "text"
        return _iso((moment, has_time)), source
    readings = {day.isoformat() for day in shown.readings} if shown else set()
    for value, source in _page_dates(tree, page, url, latest):
        if shown is None or value[:10] in readings:
            return value, source
    if shown:
        return _shown_iso(shown, latest), "time" if shown.datetime else "text"
    guess = fallback()
    return normalise_date(guess, latest), "htmldate" if guess else "none"


def _page_dates(
    tree: lxml_html.HtmlElement, page: PageData, url: str, latest: datetime
) -> Iterator[tuple[str, str]]:
    """The weaker sources, in order of trust: generic meta, RDFa/microdata, the article's
    <time>, hAtom, the URL, a theme's "updated" <time>."""
    for key in GENERIC_DATE_META:
        if found := normalise_date(page.meta.get(key), latest):
            yield found, "meta"
    for value in tree.xpath(PUBLISHED_ATTR_XPATH):
        if found := normalise_date(value, latest):
            yield found, "meta"
    for xpath in ARTICLE_TIME_XPATHS:
        for element in tree.xpath(xpath):
            if found := normalise_date(element.get("datetime"), latest):
                yield found, "time"
    for value in tree.xpath(HATOM_PUBLISHED_XPATH):
        if found := normalise_date(value, latest):
            yield found, "time"
    if found := url_date(url):
        yield found, "url"
    for element in tree.xpath(UPDATED_TIME_XPATH):
        if found := normalise_date(element.get("datetime"), latest):
            yield found, "time"


def modified_values(page: PageData) -> list[Any]:
    return [page.article.get("dateModified"), *(page.meta.get(k) for k in MODIFIED_META)]


def modified_date(page: PageData, latest: datetime) -> str | None:
    return next((d for d in (normalise_date(c, latest) for c in modified_values(page)) if d), None)


def latest_plausible(fetched_at: str | None) -> datetime:
    """Dates after the fetch (plus a day of time-zone slack) are not publication dates."""
    try:
        moment = datetime.fromisoformat((fetched_at or "").replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) + timedelta(days=1)
