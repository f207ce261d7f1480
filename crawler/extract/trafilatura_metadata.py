"""trafilatura's page metadata, only the fields the project's own rules use, the costly ones
computed when a rule first falls back to them.

trafilatura's `extract_metadata` spends most of its time on what crawler.extract.metadata
rarely needs: the author heuristic (~12 ms a call on real pages; used only when a page has
neither JSON-LD authors nor a byline, and run here by crawler.extract.author_guess, the same
answer in ~2.7 ms), htmldate (used only when no structured date, <time> or URL date exists),
categories and licence (never used).
This runs trafilatura's own functions in its own order (trafilatura.metadata.extract_metadata,
2.x), two of them (the author guess, the tag links) in faster forms of ours, and gives the same
values: `tests/test_extraction_rules.py` compares the two on every fixture page, and
`tests/test_trafilatura_equivalents.py` the faster forms on crafted cases too.
"""

from __future__ import annotations

import re
from contextlib import suppress
from functools import cached_property
from typing import Any

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    Document,
    block_text,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
    line_processing,
)

from crawler.extract.author_guess import guess_author

# trafilatura's TAGS_XPATHS, in its order: the link lists its `extract_catstags("tag", ...)`
# reads. Its four XPaths cost ~2.4 ms a page; page_tags finds the same links in ~0.9 ms.
TAG_LINK = re.compile("/tag(?:y|ies|s)?/")
CLASS_VALUES = etree.XPath("//@class")
# every class value that one of the container tests below can accept matches this
MAY_CONTAIN_TAGS = re.compile(
    r"^(?:tag|entry-|row$|jp-relatedposts$|postmeta|meta)|topics|tags-links"
)


def _tag_containers(tag: str, cls: str) -> tuple[bool, bool, bool, bool]:
    """Which of TAGS_XPATHS' container tests an element with ``tag`` and ``cls`` meets."""
    return (
        tag == "div" and cls == "tags",
        tag == "p" and cls.startswith("entry-tags"),
        tag == "div"
        and (
            cls in ("row", "jp-relatedposts", "entry-utility")
            or cls.startswith(("tag", "postmeta", "meta"))  # re:test(@class, '^(?:tag|...)')
        ),
        cls == "entry-meta" or "topics" in cls or "tags-links" in cls,
    )


def page_tags(tree: HtmlElement) -> list[str]:
    """What `trafilatura.metadata.extract_catstags("tag", tree)` returns."""
    containers: tuple[list[HtmlElement], ...] = ([], [], [], [])
    # The class values alone (strings, fetched in C) rule out nearly every element first.
    for cls in CLASS_VALUES(tree):
        if not MAY_CONTAIN_TAGS.search(cls):
            continue
        element = cls.getparent()
        for found, met in zip(containers, _tag_containers(element.tag, cls), strict=True):
            if met:
                found.append(element)
    for found in containers:
        results = [block_text(a) for a in _links_below(found) if TAG_LINK.search(a.get("href"))]
        if results:
            return [r for r in dict.fromkeys(line_processing(x) for x in results if x) if r]
    return []


def _links_below(containers: list[HtmlElement]) -> list[HtmlElement]:
    """`container//a[@href]` over all ``containers`` (in document order), each link once."""
    chosen = set(containers)
    outermost = [c for c in containers if not any(a in chosen for a in c.iterancestors())]
    return [a for c in outermost for a in c.iterdescendants("a") if a.get("href") is not None]


# htmldate's parameters, as the extraction passed them to trafilatura before
DATE_PARAMS = {"extensive_search": True, "original_date": True}


def _trimmed(value: str | None) -> str | None:
    """What trafilatura's Document.clean_and_trim makes of one field."""
    if value is None:
        return None
    document = Document()
    document.title = value
    document.clean_and_trim()
    return document.title


class TrafilaturaMetadata:
    """title, sitename, description and tags at once (cheap: meta tags and JSON-LD); author
    and date on first use. Never touches the tree: trafilatura's heuristics copy it."""

    def __init__(self, tree: HtmlElement, url: str) -> None:
        self._tree = tree
        meta = examine_meta(tree)
        if meta.author and " " not in meta.author:
            meta.author = None
        with suppress(Exception):  # trafilatura guards its JSON-LD reader the same way
            meta = extract_meta_json(tree, meta)
        if not meta.title:
            meta.title = extract_title(tree)
        self._meta_author = meta.author
        self.url = meta.url or extract_url(tree, url)
        if not meta.sitename:
            meta.sitename = extract_sitename(tree)
        if meta.sitename:
            meta.sitename = meta.sitename.lstrip("@")
            if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
                meta.sitename = meta.sitename.title()
        elif self.url and (match := META_URL.match(self.url)):
            meta.sitename = match[1]
        if not meta.tags:
            meta.tags = page_tags(self._tree)
        meta.clean_and_trim()
        self.title: str | None = meta.title
        self.sitename: str | None = meta.sitename
        self.description: str | None = meta.description
        self.tags: list[str] = list(meta.tags or [])

    @cached_property
    def author(self) -> str | None:
        # trafilatura's extract_author, in a quarter of its time (crawler.extract.author_guess)
        return _trimmed(self._meta_author or guess_author(self._tree))

    @cached_property
    def date(self) -> str | None:
        params: dict[str, Any] = {**DATE_PARAMS, "url": self.url}
        return _trimmed(find_date(self._tree, **params))
