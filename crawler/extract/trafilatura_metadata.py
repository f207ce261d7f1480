"""trafilatura's page metadata, only the fields the project's own rules use, the costly ones
computed when a rule first falls back to them.

trafilatura's `extract_metadata` costs ~4.5 ms a page, a third of all extraction, and most of
it is spent on what crawler.extract.metadata rarely needs: the author heuristic (~1.7 ms, used only
when a page has neither JSON-LD authors nor a byline), htmldate (~0.7 ms, used only when no
structured date, <time> or URL date exists), categories and licence (~0.9 ms, never used).
This runs trafilatura's own functions in its own order (trafilatura.metadata.extract_metadata,
2.x) and gives the same values; `tests/test_extraction_rules.py` compares the two on every
fixture page.
"""

from __future__ import annotations

from contextlib import suppress
from functools import cached_property
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    Document,
    examine_meta,
    extract_author,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)

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
            meta.tags = extract_catstags("tag", self._tree)
        meta.clean_and_trim()
        self.title: str | None = meta.title
        self.sitename: str | None = meta.sitename
        self.description: str | None = meta.description
        self.tags: list[str] = list(meta.tags or [])

    @cached_property
    def author(self) -> str | None:
        return _trimmed(self._meta_author or extract_author(self._tree))

    @cached_property
    def date(self) -> str | None:
        params: dict[str, Any] = {**DATE_PARAMS, "url": self.url}
        return _trimmed(find_date(self._tree, **params))
