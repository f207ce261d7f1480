"""trafilatura's readability comparison, skipped on pages where readability cannot win.

trafilatura (2.x, balanced focus) runs readability on every page, then keeps its own text
unless readability's is over twice as long, its own is empty, or its own has no paragraph text
or more tables than paragraphs (`trafilatura.external._prefer_readability`). Readability keeps a
subset of the page's text nodes outside <script>, <style> and <fencedframe>, so their length
(plus one space between two of them: trafilatura measures the text with whitespace runs
collapsed) bounds its text from above. When that bound is at most twice trafilatura's own
text and the other conditions fail, readability's answer is known to be "no" before it runs:
it gets an empty page instead (~3 ms saved on each page skipped, ~55% of the benchmark pages),
and the rest of trafilatura's comparison (jusText on unclean or short texts) runs as before. The
texts are the same either way; `tests/test_cpu_per_page.py` compares them.

Used as a context around the project's own calls of trafilatura, so a caller of stock
trafilatura in the same process (a benchmark's yardstick) is left as it is.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from typing import Any

from lxml import etree
from lxml.html import HtmlElement
from trafilatura import core
from trafilatura.external import compare_extraction
from trafilatura.main_extractor import extract_content

# The text nodes readability can keep: all but the contents of what it drops first.
_READABLE_TEXT = etree.XPath(
    "descendant::text()[not(parent::script or parent::style or parent::fencedframe)]",
    smart_strings=False,
)
_ORIGINAL = core._extract_and_compare
# The gate stands in for trafilatura's function only if that still takes these arguments.
SUPPORTED = list(inspect.signature(_ORIGINAL).parameters) == [
    "cleaned_tree", "cleaned_tree_backup", "tree", "options",
]  # fmt: skip


def readable_text_bound(tree: HtmlElement) -> int:
    """The most characters readability's text for ``tree`` can have, as trafilatura counts them."""
    lengths = [len(text.strip()) for text in _READABLE_TEXT(tree)]
    return sum(lengths) + sum(1 for length in lengths if length)


def readability_cannot_win(tree: HtmlElement, body: Any, text: str) -> bool:
    """Whether trafilatura's balanced-focus comparison surely keeps ``text`` (its own, with
    its ``body``) over readability's text for ``tree``."""
    if not text or not body.xpath(".//p//text()"):
        return False
    if len(body.findall(".//table")) > len(body.findall(".//p")):
        return False
    return readable_text_bound(tree) <= 2 * len(text)


def _extract_and_compare(
    cleaned_tree: HtmlElement, cleaned_tree_backup: HtmlElement, tree: HtmlElement, options: Any
) -> tuple[Any, str]:
    """trafilatura.core._extract_and_compare (2.x), readability reading an empty page when it
    cannot win."""
    postbody, temp_text = extract_content(cleaned_tree, options)
    if not options.fast:
        gated = options.focus == "balanced" and readability_cannot_win(tree, postbody, temp_text)
        raw_tree = HtmlElement() if gated else copy(tree)
        postbody, temp_text = compare_extraction(
            cleaned_tree_backup, raw_tree, postbody, temp_text, options
        )
    return postbody, temp_text


@contextmanager
def readability_gated() -> Iterator[None]:
    """trafilatura's calls inside this context skip readability where it cannot win."""
    if not SUPPORTED:  # another trafilatura: run it as it is
        yield
        return
    core._extract_and_compare = _extract_and_compare
    try:
        yield
    finally:
        core._extract_and_compare = _ORIGINAL
