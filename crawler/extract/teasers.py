"""Teaser lists inside an extracted text: lines that are wholly the text of a link.

A related-stories box, a "more on this topic" list or a section menu that trafilatura keeps
reads as lines each of which is one link's text. A list item ("- " in trafilatura's text) that
is wholly a link is such a teaser; so is a run of RUN_LINES or more plain lines that are each
wholly a link. A single linked line between paragraphs (a live blog's linked headline, a
"read the report" line) stays.
"""

from __future__ import annotations

from lxml import html as lxml_html

MIN_LINK_CHARS = 10  # shorter link texts ("here", "PDF") say nothing about a line
MAX_LINE_CHARS = 300
UNLINKED_SHARE = 0.4  # at most this share of a teaser line lies outside its links
RUN_LINES = 3
SEPARATORS = " -–—|:•»›"


def link_texts(tree: lxml_html.HtmlElement, min_chars: int = MIN_LINK_CHARS) -> list[str]:
    """The page's link texts, longest first (so that a longer one is matched first)."""
    texts = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    return sorted((t for t in texts if len(t) >= min_chars), key=len, reverse=True)


def is_linked(line: str, links: list[str], exact: set[str]) -> bool:
    if line in exact:
        return True
    if len(line) > MAX_LINE_CHARS:
        return False
    rest = line
    for text in links:
        if text in rest:
            rest = rest.replace(text, "")
    return len(rest.strip(SEPARATORS)) <= UNLINKED_SHARE * len(line)


def drop_teasers(lines: list[str], links: list[str]) -> list[str]:
    if not links:
        return lines
    exact = set(links)
    bullet = [line.startswith("- ") for line in lines]
    linked = [
        is_linked(line[2:] if b else line, links, exact)
        for line, b in zip(lines, bullet, strict=True)
    ]
    doomed = [b and f for b, f in zip(bullet, linked, strict=True)]
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and linked[end]:
            end += 1
        if end - start >= RUN_LINES:
            doomed[start:end] = [True] * (end - start)
        start = end + 1
    return [line for line, gone in zip(lines, doomed, strict=True) if not gone]
