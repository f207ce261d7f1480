"""Headline and site name: which of the page's headline forms to trust, and how to cut a site
name, section or kicker off a <title>-style string.

Candidates: JSON-LD `headline`, og:title, the visible <h1>, <title>, trafilatura's guess. Entities
are decoded where the page is read (crawler.extract.metadata.read_page_data).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml import html as lxml_html

from crawler.extract.metadata import PageData, squash

TITLE_SEPARATOR = re.compile(r"\s+[-|–—·•:»]\s+")
# Separators CJK titles use without spaces: full-width colon and bar, and the Hangul letter
# ㅣ, which Korean sites use as a bar (in running text it is always part of a syllable).
CJK_SEPARATOR = re.compile(r"\s*[：｜ㅣ]\s*")
# After a known headline, any separator, spaced or not ("Headline-Section", "Headline：Site").
AFTER_HEADLINE = re.compile(r"\s*[-|–—·•:»/：｜ㅣ]\s*")



@dataclass(frozen=True)
class Headings:
    """The page's <title> and first <h1>, read once and used for both title and site name."""

    title_tag: str | None
    h1: str | None

    @classmethod
    def read(cls, tree: lxml_html.HtmlElement) -> Headings:
        title = tree.findtext(".//title")
        return cls(html.unescape(title) if title else title, first_h1(tree))


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


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _split_after(title: str, head: str) -> str | None:
    """What follows `head` + separator at the start of `title` (None when it does not)."""
    if not head or not title.casefold().startswith(head.casefold()):
        return None
    rest = title[len(head) :]
    if match := TITLE_SEPARATOR.match(rest):
        return rest[match.end() :].strip()
    # "Headline-Section", "Headline：Site": unspaced, so only a short tail after a whole
    # headline counts (else "LTE-Patent" would end at "LTE")
    match = AFTER_HEADLINE.match(rest)
    tail = rest[match.end() :].strip() if match else ""
    return tail if tail and len(head) >= 12 and len(tail) <= 30 else None


def _separators(title: str) -> list[re.Match[str]]:
    matches = [*TITLE_SEPARATOR.finditer(title), *CJK_SEPARATOR.finditer(title)]
    return sorted(matches, key=lambda m: m.start())


def _strip_site(title: str, site_keys: set[str]) -> str:
    """Drop a last or first part that names the site ("Headline | Site", "Site: Headline")."""
    separators = _separators(title)
    if not separators:
        return title
    last, first = separators[-1], separators[0]
    for keep, dropped in (
        (title[: last.start()], title[last.end() :]),
        (title[first.end() :], title[: first.start()]),
    ):
        key = squash(dropped)
        if key and keep.strip() and any(key == k or key in k or k in key for k in site_keys):
            return keep.strip()
    return title


def _strip_section(title: str, sections: Iterable[str]) -> str:
    """Drop a trailing section name the page declares ("Headline - Politics")."""
    for section in sections:
        tail = re.compile(r"\s*[-|–—·•:»/：｜ㅣ]\s*" + re.escape(section) + "$", re.IGNORECASE)
        if (match := tail.search(title)) and match.start() >= 12:
            return title[: match.start()]
    return title


def clean_title(
    title: str | None,
    site: str | None,
    url: str,
    h1: str | None = None,
    *,
    known: Iterable[str | None] = (),
    sections: Iterable[str] = (),
) -> str | None:
    """The headline without a ' - Site Name' suffix or 'Site | ' prefix; ``known`` are the
    page's other headlines (JSON-LD, og:title): one of them followed by a separator is the
    headline, whatever follows it."""
    if not title:
        return None
    title = _one_line(title)
    for head in (h1, *known):
        head = _one_line(head)
        if head != title and _split_after(title, head):
            return head  # "<headline> - Whatever": the rest is the site, a section or a slogan
    host = (urlsplit(url).hostname or "").removeprefix("www.").split(".")[0]
    site_keys = {k for k in (squash(site or ""), squash(host)) if k}
    return _strip_section(_strip_site(title, site_keys), sections)


def site_from_title(title: str | None, h1: str | None) -> str | None:
    """'Headline - Site Name' with a known headline gives the site name."""
    rest = _split_after(_one_line(title), _one_line(h1))
    return rest if rest and len(rest.split()) <= 6 else None


def _heading_text(element: lxml_html.HtmlElement) -> str:
    """A heading's text, a space added where two of its elements would run together: a kicker
    and the headline in sibling spans ("Kicker</span>Headline") read as two phrases."""
    text = ""
    for piece in element.itertext():
        if text and piece and not text[-1].isspace() and not piece[0].isspace():
            before, after = text[-1], piece[0]
            if (before.islower() or before in ":;!?|") and after.isupper():
                text += " "
        text += piece
    return _one_line(text)


# An <h1> in navigation or a breadcrumb trail repeats some title; it is not the headline shown.
HEADLINE_H1 = (
    "h1[not(ancestor::nav) and not(ancestor::*[contains(translate(@class, 'B', 'b'),"
    " 'breadcrumb')])]"
)


def first_h1(tree: lxml_html.HtmlElement) -> str | None:
    for xpath in (f"(//article//{HEADLINE_H1})[1]", f"(//{HEADLINE_H1})[1]"):
        found = tree.xpath(xpath)
        if found:
            return _heading_text(found[0]) or None
    return None


def section_names(page: PageData) -> list[str]:
    """The sections and categories the page declares (meta and JSON-LD articleSection)."""
    values = [v for k, v in page.meta.items() if k.endswith(("section", "category"))]
    declared = page.article.get("articleSection")
    values += declared if isinstance(declared, list) else [declared]
    return [_one_line(v) for v in values if isinstance(v, str) and 0 < len(v.strip()) <= 40]


def _same_words(a: str | None, b: str | None) -> bool:
    """Equal up to case, punctuation and quote style."""
    return bool(a and b) and squash(a or "") == squash(b or "")


def headline(
    page: PageData, headings: Headings, fallback: str | None, site: str | None, url: str
) -> str | None:
    """JSON-LD headline, og:title, <title>, trafilatura's: the first found, suffix removed.
    When JSON-LD and og:title give different headlines (one is often a variant written for
    search or social media), the one the page shows in its <h1> wins."""
    ld, og, tw = (
        page.article.get("headline"),
        page.meta.get("og:title"),
        page.meta.get("twitter:title"),
    )
    known = [v for v in (ld, og, tw) if isinstance(v, str)]
    sections = section_names(page)

    def cleaned(value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        return clean_title(value, site, url, headings.h1, known=known, sections=sections)

    ld_title, og_title = cleaned(ld), cleaned(og)
    if ld_title and not _same_words(ld_title, og_title) and _same_words(og_title, headings.h1):
        return og_title
    for candidate in (ld_title, og_title, cleaned(headings.title_tag), cleaned(fallback)):
        if candidate:
            return candidate
    return headings.h1
