"""Publication dates: where a page states them, in which order of trust, and how to read them.

Meta tags first, then JSON-LD, the article's own markup, the URL, and htmldate's heuristics
last. Dates keep the publication's own UTC offset; dates after the fetch are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dateutil import parser as date_parser
from dateutil import tz
from lxml import html as lxml_html

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
PUBLISHED_ATTR_XPATH = (
    "//*[contains(concat(' ', @property, ' '), ' dc:created ')"
    " or contains(concat(' ', @property, ' '), ' dc:date ')"
    " or contains(@property, 'datePublished') or @itemprop='datePublished'][@content]/@content"
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
# Where an article's own <time> lives, most specific first (an XPath union would lose the
# order): marked as the publication time, in the post header/byline, in the first <article>.
ARTICLE_TIME_XPATHS = (
    "//time[@datetime][contains(@class, 'published') or @itemprop='datePublished' or @pubdate]",
    "//*[contains(@class, 'post-header') or contains(@class, 'entry-header')"
    " or contains(@class, 'article-header') or contains(@class, 'byline')"
    " or contains(@class, 'entry-meta') or contains(@class, 'post-meta')]//time[@datetime]",
    "(//article)[1]//time[@datetime]",
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


def publication_date(
    tree: lxml_html.HtmlElement,
    page: PageData,
    url: str,
    fallback: Callable[[], str | None],
    latest: datetime,
) -> tuple[str | None, str]:
    """(ISO date, where it came from), in the order of trust of issue #3; ``fallback``
    (htmldate's guess) is asked only when nothing else gives a date."""
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
        return _iso((moment, has_time)), source
    for key in GENERIC_DATE_META:
        if found := normalise_date(page.meta.get(key), latest):
            return found, "meta"
    for value in tree.xpath(PUBLISHED_ATTR_XPATH):
        if found := normalise_date(value, latest):
            return found, "meta"
    for xpath in ARTICLE_TIME_XPATHS:
        for element in tree.xpath(xpath):
            if found := normalise_date(element.get("datetime"), latest):
                return found, "time"
    for value in tree.xpath(HATOM_PUBLISHED_XPATH):
        if found := normalise_date(value, latest):
            return found, "time"
    if found := url_date(url):
        return found, "url"
    guess = fallback()
    return normalise_date(guess, latest), "htmldate" if guess else "none"


def modified_date(page: PageData, latest: datetime) -> str | None:
    candidates = [page.article.get("dateModified"), *(page.meta.get(k) for k in MODIFIED_META)]
    return next((d for d in (normalise_date(c, latest) for c in candidates) if d), None)


def latest_plausible(fetched_at: str | None) -> datetime:
    """Dates after the fetch (plus a day of time-zone slack) are not publication dates."""
    try:
        moment = datetime.fromisoformat((fetched_at or "").replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) + timedelta(days=1)
