"""Article metadata the project decides itself: dates, title, author, site name, URL, language.

Structured data first (JSON-LD, meta tags), then the article's own markup, and trafilatura's
heuristics last. Publication dates: crawler.extract.dates; headline and site name:
crawler.extract.titles.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

# Dates live in their own module; these names stay importable from here.
from crawler.extract.dates import latest_plausible as latest_plausible
from crawler.extract.dates import modified_date as modified_date
from crawler.extract.dates import normalise_date as normalise_date
from crawler.extract.dates import publication_date as publication_date
from crawler.extract.dates import url_date as url_date

ARTICLE_TYPES = frozenset(
    {
        "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "BlogPosting",
        "LiveBlogPosting", "Report", "ScholarlyArticle", "TechArticle", "SatiricalArticle",
    }
)  # fmt: skip
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator")
# Elements holding a byline, most specific first.
BYLINE_XPATHS = (
    "//*[@rel='author']",
    "//*[@itemprop='author']//*[@itemprop='name'] | //*[@itemprop='author'][not(*)]",
    # class names: the four "author" tests only where the class contains "author" at all
    # (the same elements, in a third of the time: this path runs over every element)
    "//*[@class][contains(@class, 'byline') or contains(@class, 'username')"
    " or contains(@class, 'ContributorName') or contains(@class, 'contributor-name')"
    " or (contains(@class, 'author') and (contains(@class, 'author-name')"
    " or contains(@class, 'article-author') or contains(@class, 'post-author')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' author ')))]",
    # a link to the author's page, in the article first
    "(//article)[1]//a[contains(@href, '/author') or contains(@href, '/autor')]",
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
# A staff code after a name: "Elena Brunner (ebr)".
NAME_CODE = re.compile(r"\s*\([^()]{0,12}\)")
# CJK bylines put the role after the name: "김민준 기자", "山田太郎記者".
CJK_ROLE = re.compile(r"\s*(?:기자|특파원|记者|記者|特派員|特约记者)$")
# Web addresses and e-mail: a site or a contact beside a name, never a name.
WEB_ADDRESS = re.compile(r"@|^https?:|^www\.|^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,12}$", re.IGNORECASE)
AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|&|\band\b|\bund\b|\bet\b|\by\b)\s*", re.IGNORECASE)
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


def squash(text: str) -> str:
    """Letters and digits only, case-folded: for comparing names and titles."""
    return re.sub(r"[\W_]+", "", text).casefold()


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


def _unescaped(node: Any) -> Any:
    """JSON-LD with entities decoded: sites often HTML-escape strings twice (`&ouml;`,
    `&#8217;`), and JSON strings are plain text, so an entity in one is never meant."""
    if isinstance(node, str):
        return html.unescape(node) if "&" in node else node
    if isinstance(node, list):
        return [_unescaped(item) for item in node]
    if isinstance(node, dict):
        return {key: _unescaped(value) for key, value in node.items()}
    return node


def read_page_data(tree: lxml_html.HtmlElement) -> PageData:
    data = PageData(jsonld=[_unescaped(obj) for obj in _jsonld_objects(tree)])
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        # the parser decoded entities once; one left over is a second, mistaken escape
        value = html.unescape((meta.get("content") or "").strip())
        if key and value:
            data.meta.setdefault(key.strip(), value)
    return data


def _names(value: Any, index: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(type, name) pairs of a JSON-LD author value: nested lists flattened, and references
    ({"@id": ...}, as in Yoast graphs) looked up in ``index``."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, list):
            yield from _names(item, index)
            continue
        if isinstance(item, dict) and "name" not in item and isinstance(item.get("@id"), str):
            item = index.get(item["@id"], item)
        if isinstance(item, str):
            yield "Person", item
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            yield (next(iter(types_of(item)), "Person"), item["name"])


def _is_name_part(part: str, earlier: list[str]) -> bool:
    """Whether one comma-separated part of a byline names an author."""
    if not part or not re.search(r"\w", part) or part.isdigit():
        return False
    if not earlier:
        return not part.startswith("http")
    if ROLE_WORDS.search(part):
        return False  # "Business Editor" after a name: a job title, not another author
    # after a name, a web address or a long phrase is the site or the author's description
    return not WEB_ADDRESS.search(part) and len(part.split()) <= 5


def clean_author(raw: str | None) -> str | None:
    """'By A and B, Staff Writers' -> 'A; B'."""
    if not raw:
        return None
    names: list[str] = []
    seen: set[str] = set()
    for part in AUTHOR_SPLIT.split(BYLINE_PREFIX.sub("", raw.strip())):
        name = NAME_CODE.sub("", BYLINE_PREFIX.sub("", " ".join(part.split())))
        name = CJK_ROLE.sub("", name).strip(" .,-–—|")
        # the same person twice, as a name and as a slug ("Ann Lee", "ann-lee")
        key = squash(name)
        if key in seen or not any(c.isalpha() for c in name):
            continue
        if _is_name_part(name, names):
            names.append(name)
            seen.add(key)
    return "; ".join(names) or None


def looks_like_name(name: str) -> bool:
    """'Jenna Martin' yes; a login such as 'jmartin' or a sentence no. Scripts without
    capitals (Chinese, Korean, ...) write a full name as one word."""
    words = name.split()
    if len(words) == 1 and not name.isascii() and not any(c.isupper() or c.islower() for c in name):
        return True
    return 1 < len(words) <= 5 or (len(words) == 1 and name[:1].isupper() and name != "Admin")


def _spaced_text(element: lxml_html.HtmlElement) -> str:
    """Text with a space wherever markup separates two pieces: bylines run labels, names and
    links together ("ByJane DoeTwitter")."""
    return " ".join(" ".join(piece.split()) for piece in element.itertext() if piece.strip())


def byline_author(tree: lxml_html.HtmlElement, confirmed: list[str] | None = None) -> str | None:
    """The names in the first byline element that gives any. ``confirmed`` are names from
    the author meta tags: a byline containing them is read as them (a byline's markup often
    runs the name into labels and links), before any other byline-like element."""

    def elements() -> Iterator[tuple[lxml_html.HtmlElement, str]]:
        for xpath in BYLINE_XPATHS:
            for element in tree.xpath(xpath):
                text = " ".join(element.text_content().split())
                if 0 < len(text) <= 120:
                    yield element, text

    wanted = [squash(name) for name in confirmed or []]
    if wanted and any(all(k and k in squash(text) for k in wanted) for _e, text in elements()):
        return "; ".join(confirmed or [])
    for element, _text in elements():
        # "By X | 9 October 2026", "By X, updated ...": keep the part before the date
        author_ = clean_author(BYLINE_END.split(_spaced_text(element), maxsplit=1)[0])
        if author_ and all(looks_like_name(n) for n in author_.split("; ")):
            return author_
    return None


def _site_names(page: PageData) -> set[str]:
    publisher = page.article.get("publisher")
    names = [
        page.meta.get("og:site_name"),
        publisher.get("name") if isinstance(publisher, dict) else None,
    ]
    return {squash(n) for n in names if isinstance(n, str) and squash(n)}


def _without_site(names: str | None, page: PageData) -> str | None:
    """A guessed author list without the site's own name when it also names people: there
    the site name is the publisher label, not an author."""
    if not names:
        return names
    site = _site_names(page)
    kept = [n for n in names.split("; ") if squash(n) not in site]
    return "; ".join(kept) if kept else names


def author(
    tree: lxml_html.HtmlElement, page: PageData, fallback: Callable[[], str | None]
) -> str | None:
    """JSON-LD authors, the page's byline, trafilatura's guess (``fallback``, asked only when
    the first two give nothing), author meta tags."""
    index = {obj["@id"]: obj for obj in page.jsonld if isinstance(obj.get("@id"), str)}
    # Organisations too: a news agency or desk credited beside a reporter is an author, and
    # a page crediting only its newsroom has no other.
    names = [name for _kind, name in _names(page.article.get("author"), index)]
    if names:
        return clean_author("; ".join(names))
    metas = [clean_author(page.meta.get(k)) for k in AUTHOR_META]
    meta = next((m for m in metas if m), None)
    confirmed = next(
        (m.split("; ") for m in metas if m and all(looks_like_name(n) for n in m.split("; "))),
        None,
    )
    if found := byline_author(tree, confirmed):
        return found
    guess = _without_site(clean_author(fallback()), page)
    if guess and all(looks_like_name(n) for n in guess.split("; ")):
        return guess
    return meta or guess


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
