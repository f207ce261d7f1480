"""Article metadata the project decides itself: dates, title, author, site name, URL, language.

Structured data first (JSON-LD, meta tags), then the article's own markup, then the URL, and
trafilatura/htmldate's heuristics last — run on a tree whose date widgets are already gone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from dateutil import parser as date_parser
from lxml import html as lxml_html

ARTICLE_TYPES = frozenset(
    {
        "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "BlogPosting",
        "LiveBlogPosting", "Report", "ScholarlyArticle", "TechArticle", "SatiricalArticle",
    }
)  # fmt: skip
# Meta tags naming the publication time, most trusted first.
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "article.published",
    "datepublished", "parsely-pub-date", "sailthru.date", "dcterms.issued", "dc.date.issued",
    "dcterms.created", "dc.date", "pubdate", "publishdate", "publish-date", "publish_date",
    "og:published_time", "cxenseparse:recs:publishtime", "date",
)  # fmt: skip
# RDFa / microdata on any element (Drupal's dc:date, schema.org itemprop spans).
PUBLISHED_ATTR_XPATH = (
    "//*[contains(concat(' ', @property, ' '), ' dc:created ')"
    " or contains(concat(' ', @property, ' '), ' dc:date ')"
    " or contains(@property, 'datePublished') or @itemprop='datePublished'][@content]/@content"
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator")
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
URL_DATE = re.compile(
    r"/(20\d{2}|19\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)"
    r"|/(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])/"
)
# Elements holding a byline, most specific first.
BYLINE_XPATHS = (
    "//*[@rel='author']",
    "//*[@itemprop='author']//*[@itemprop='name'] | //*[@itemprop='author'][not(*)]",
    "//*[contains(@class, 'byline') or contains(@class, 'author-name')"
    " or contains(@class, 'article-author') or contains(@class, 'post-author')"
    " or contains(@class, 'username') or contains(@class, 'ContributorName')"
    " or contains(@class, 'contributor-name')]",
)
# Job titles that follow a name in a byline: "By Jenna Martin, Staff Writer".
ROLE_WORDS = re.compile(
    r"(?:^|\s)(?:writer|reporter|correspondent|editor|columnist|contributor|staff|desk|"
    r"redakteur(?:in)?|korrespondent(?:in)?|journaliste|rédact(?:eur|rice)|corresponsal|"
    r"redactor[a]?|periodista)s?$",
    re.IGNORECASE,
)
# Where a byline's name part ends: a separator, "on/updated/published", or a date's digits.
BYLINE_END = re.compile(
    r"\s[-–—|•·](?:\s|$)|\s(?:on|updated|published|am|le|el|il)\s|\d", re.IGNORECASE
)
BYLINE_PREFIX = re.compile(r"^\s*(?:by|von|par|por|de|door|di)\s+", re.IGNORECASE)
AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|&|\band\b|\bund\b|\bet\b|\by\b)\s*", re.IGNORECASE)
TITLE_SEPARATOR = re.compile(r"\s+[-|–—·•:»]\s+")
EARLIEST_YEAR = 1990


@dataclass
class PageData:
    """Structured data found in a page's head and scripts."""

    jsonld: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def article(self) -> dict[str, Any]:
        """The first JSON-LD object of an article type (empty when there is none)."""
        for obj in self.jsonld:
            if types_of(obj) & ARTICLE_TYPES:
                return obj
        return {}


def types_of(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {v.rsplit("/", 1)[-1] for v in values if isinstance(v, str)}


def _jsonld_objects(tree: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; the rest of the page still counts
        stack = [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                yield node
                stack.extend(v for k, v in node.items() if k in ("@graph", "mainEntity"))


def read_page_data(tree: lxml_html.HtmlElement) -> PageData:
    data = PageData(jsonld=list(_jsonld_objects(tree)))
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        value = (meta.get("content") or "").strip()
        if key and value:
            data.meta.setdefault(key.strip(), value)
    return data


def normalise_date(value: Any, latest: datetime) -> str | None:
    """ISO 8601 for a date or date-time string; the time zone is kept when the source has one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = date_parser.parse(text, fuzzy=False)
        except (ValueError, OverflowError):
            return None
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if parsed.year < EARLIEST_YEAR or aware > latest:
        return None  # not a publication date: too early, or in the future
    has_time = bool(re.search(r"\d[T\s]\d{1,2}:\d{2}", text))
    return parsed.isoformat() if has_time else parsed.date().isoformat()


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
    article = page.article
    for key in ("datePublished", "dateCreated", "coverageStartTime", "uploadDate"):
        if found := normalise_date(article.get(key), latest):
            return found, "jsonld"
    for key in PUBLISHED_META:
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


def _names(value: Any) -> Iterator[tuple[str, str]]:
    """(type, name) pairs of a JSON-LD author value."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            yield "Person", item
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            yield (next(iter(types_of(item)), "Person"), item["name"])


def clean_author(raw: str | None) -> str | None:
    """'By A and B, Staff Writers' -> 'A; B'."""
    if not raw:
        return None
    names: list[str] = []
    for part in AUTHOR_SPLIT.split(BYLINE_PREFIX.sub("", raw.strip())):
        name = BYLINE_PREFIX.sub("", " ".join(part.split())).strip(" .,-–—|")
        if name.startswith("http") or name in names or not name:
            continue
        if names and ROLE_WORDS.search(name):
            continue  # "Business Editor" after a name: a job title, not another author
        names.append(name)
    return "; ".join(names) or None


def looks_like_name(name: str) -> bool:
    """'Jenna Martin' yes; a login such as 'jmartin' or a sentence no."""
    words = name.split()
    return 1 < len(words) <= 5 or (len(words) == 1 and name[:1].isupper() and name != "Admin")


def byline_author(tree: lxml_html.HtmlElement) -> str | None:
    for xpath in BYLINE_XPATHS:
        for element in tree.xpath(xpath):
            text = " ".join(element.text_content().split())
            if not text or len(text) > 120:
                continue
            # "By X | 9 October 2026", "By X, updated ...": keep the part before the date
            text = BYLINE_END.split(text, maxsplit=1)[0]
            author_ = clean_author(text)
            if author_ and all(looks_like_name(n) for n in author_.split("; ")):
                return author_
    return None


def author(
    tree: lxml_html.HtmlElement, page: PageData, fallback: Callable[[], str | None]
) -> str | None:
    """JSON-LD authors, the page's byline, trafilatura's guess (``fallback``, asked only when
    the first two give nothing), author meta tags."""
    pairs = list(_names(page.article.get("author")))
    people = [name for kind, name in pairs if kind != "Organization"]
    names = people or [name for _kind, name in pairs]
    if names:
        return clean_author("; ".join(names))
    if found := byline_author(tree):
        return found
    guess = clean_author(fallback())
    if guess and all(looks_like_name(n) for n in guess.split("; ")):
        return guess
    meta = next((page.meta[k] for k in AUTHOR_META if page.meta.get(k)), None)
    return clean_author(meta) or guess


@dataclass(frozen=True)
class Headings:
    """The page's <title> and first <h1>, read once and used for both title and site name."""

    title_tag: str | None
    h1: str | None

    @classmethod
    def read(cls, tree: lxml_html.HtmlElement) -> Headings:
        return cls(tree.findtext(".//title"), first_h1(tree))


def sitename(page: PageData, headings: Headings, fallback: str | None, url: str) -> str | None:
    """og:site_name, the publisher, application-name, the title's suffix, the host."""
    publisher = page.article.get("publisher")
    candidates = [
        page.meta.get("og:site_name"),
        publisher.get("name") if isinstance(publisher, dict) else None,
        page.meta.get("application-name"),
        site_from_title(headings.title_tag, headings.h1),
        fallback,
    ]
    host = urlsplit(url).hostname or ""
    for name in candidates:
        if isinstance(name, str) and name.strip() and name.strip() != host:
            return name.strip()
    return host or None


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def _split_after(title: str, head: str) -> str | None:
    """What follows `head` + separator at the start of `title` (None when it does not)."""
    if not head or not title.casefold().startswith(head.casefold()):
        return None
    rest = title[len(head) :]
    match = TITLE_SEPARATOR.match(rest)
    return rest[match.end() :].strip() if match else None


def clean_title(title: str | None, site: str | None, url: str, h1: str | None = None) -> str | None:
    """The headline without a ' - Site Name' suffix or 'Site | ' prefix."""
    if not title:
        return None
    title = " ".join(title.split())
    h1 = " ".join((h1 or "").split())
    if _split_after(title, h1):
        return h1  # "<h1> - Whatever": the rest is the site, a section or a slogan
    host = (urlsplit(url).hostname or "").removeprefix("www.").split(".")[0]
    site_keys = {k for k in (_squash(site or ""), _squash(host)) if k}
    parts = TITLE_SEPARATOR.split(title)
    if len(parts) < 2:
        return title
    for keep, dropped in ((parts[:-1], parts[-1]), (parts[1:], parts[0])):
        key = _squash(dropped)
        if key and any(key == k or key in k or k in key for k in site_keys):
            return " - ".join(keep)
    return title


def site_from_title(title: str | None, h1: str | None) -> str | None:
    """'Headline - Site Name' with a known headline gives the site name."""
    rest = _split_after(" ".join((title or "").split()), " ".join((h1 or "").split()))
    return rest if rest and len(rest.split()) <= 6 else None


def first_h1(tree: lxml_html.HtmlElement) -> str | None:
    for xpath in ("(//article//h1)[1]", "(//h1)[1]"):
        found = tree.xpath(xpath)
        if found:
            return " ".join(found[0].text_content().split()) or None
    return None


def headline(
    page: PageData, headings: Headings, fallback: str | None, site: str | None, url: str
) -> str | None:
    """JSON-LD headline, og:title, <title>, trafilatura's: the first found, suffix removed."""
    candidates = [
        page.article.get("headline"),
        page.meta.get("og:title"),
        headings.title_tag,
        fallback,
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return clean_title(candidate, site, url, headings.h1)
    return headings.h1


def canonical_url(tree: lxml_html.HtmlElement, page: PageData, url: str) -> str:
    hrefs = tree.xpath('//link[translate(@rel, "CANONICAL", "canonical")="canonical"]/@href')
    for candidate in [*hrefs, page.meta.get("og:url")]:
        if candidate and candidate.strip():
            absolute = urljoin(url, candidate.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return url


def declared_language(tree: lxml_html.HtmlElement, page: PageData) -> str | None:
    """Primary language subtag the page declares (html lang, Content-Language, og:locale)."""
    for value in (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        page.meta.get("content-language"),
        page.meta.get("og:locale"),
        page.article.get("inLanguage") if isinstance(page.article.get("inLanguage"), str) else None,
    ):
        tag = re.split(r"[-_,;\s]", (value or "").strip(), maxsplit=1)[0].lower()
        if 2 <= len(tag) <= 3 and tag.isalpha():
            return tag
    return None


def detected_language(text: str) -> str | None:
    """Language of the text itself, for pages that do not declare one."""
    if len(text) < 40:
        return None
    import py3langid  # loads its model on first use (~0.5 s); only pages without lang pay

    return py3langid.classify(text[:3000])[0]


def latest_plausible(fetched_at: str | None) -> datetime:
    """Dates after the fetch (plus a day of time-zone slack) are not publication dates."""
    try:
        moment = datetime.fromisoformat((fetched_at or "").replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) + timedelta(days=1)


def liveblog_text(page: PageData) -> str | None:
    """A live blog's updates from its JSON-LD (headline and body each), newest first as sites
    list them; None when the page is no live blog or its JSON-LD carries no update bodies."""
    article = page.article
    if "LiveBlogPosting" not in types_of(article):
        return None
    updates = article.get("liveBlogUpdate")
    lines: list[str] = []
    for update in updates if isinstance(updates, list) else [updates]:
        if isinstance(update, dict) and isinstance(update.get("articleBody"), str):
            headline_ = update.get("headline")
            if isinstance(headline_, str) and headline_.strip():
                lines.append(" ".join(headline_.split()))
            lines.append(" ".join(update["articleBody"].split()))
    return "\n".join(lines) or None
