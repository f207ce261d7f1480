"""Issue #23 (CPU per page): the cheaper ways of doing the same work give the same results.

- prune_chrome (libxml2-collected text lengths, one pre-order walk) prunes exactly as the
  straightforward rules below, kept here as the reference, on every fixture page;
- the project's parser (crawler.extract.parsing) builds the same trees as trafilatura's;
- WARC records compressed by zlib-ng are plain gzip members, read by gzip and warcio (a
  real crawl's WARCs are checked by warcio, cdxj-indexer and pywb in test_archive_tools).
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

import pytest
import trafilatura
from lxml import etree
from lxml import html as lxml_html

from crawler.extract import boilerplate
from crawler.extract.boilerplate import prune_chrome
from crawler.extract.parsing import load_html

FIXTURES = sorted((Path(__file__).parent / "fixtures").rglob("*.html"))
URL = "https://news.example.org/2026/03/01/story/"


def walked_text_len(element: lxml_html.HtmlElement) -> int:
    """The definition of boilerplate._text_len, node by node."""
    total = 0
    for node in element.iter():
        if node.tag in ("script", "style", "noscript", "template"):
            total -= len((node.text or "").strip())
        if node.text and isinstance(node.tag, str):
            total += len(node.text.strip())
        if node.tail and node is not element:
            total += len(node.tail.strip())
    return max(total, 0)


def reference_prune(tree: lxml_html.HtmlElement, widget_dates: list[str]) -> int:
    """prune_chrome as first written: every element in document order, each measured alone."""
    body = tree.find("body")
    total = walked_text_len(body if body is not None else tree) or 1
    before_h1 = tree.find(".//h1") is not None
    doomed: list[lxml_html.HtmlElement] = []
    inside: set[lxml_html.HtmlElement] = set()
    wrappers = {  # the blocks around an <article>/<main> of prose are layout
        ancestor
        for content in tree.iter("article", "main")
        if walked_text_len(content) >= boilerplate.PROSE_MIN_CHARS
        for ancestor in content.iterancestors()
    }
    for element in tree.iter("*"):
        if not isinstance(element.tag, str) or element is tree or element is body:
            continue
        if element.tag == "h1":
            before_h1 = False
        if element.getparent() in inside:
            inside.add(element)
            continue
        if element.tag in ("article", "main") or element in wrappers:
            continue
        kind = boilerplate.chrome_kind(element)
        length = walked_text_len(element)
        linked = sum(walked_text_len(a) for a in element.iter("a"))
        prose = length >= boilerplate.PROSE_MIN_CHARS and (
            linked / length <= boilerplate.PROSE_MAX_LINK_SHARE
        )
        chrome = kind == "strong" or (kind == "weak" and not prose)
        if (chrome and length / total <= boilerplate.MAX_PRUNED_SHARE) or (
            before_h1 and boilerplate.is_date_widget(element)
        ):
            doomed.append(element)
            shown = " ".join(element.text_content().split())
            if len(shown) < 60 and boilerplate.DATE_WIDGET.match(shown):
                widget_dates.append(shown)
            inside.add(element)
    for element in doomed:
        element.drop_tree()
    return len(doomed)


TRICKY = (
    "<html><body><noscript>hidden <img>tail counts</noscript><!-- c -->comment tail"
    "<div class='share'>Share <a href='/x'>this</a> <script>var x = 1;</script>now</div>"
    "<p>Thursday, February 29, 2024</p><div class='sidebar'><h1>Headline</h1></div>"
    "<p>Friday, March 1, 2024</p><div class='widget'><p>" + "Prose. " * 80 + "</p></div>"
    "</body></html>"
)


def test_fixture_pages_are_enough() -> None:
    assert len(FIXTURES) >= 40


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name + "/" + p.stem)
def test_prune_chrome_as_the_reference_rules(path: Path) -> None:
    tree = trafilatura.load_html(path.read_bytes())
    assert tree is not None
    ours, reference = deepcopy(tree), deepcopy(tree)
    ours_dates: list[str] = []
    reference_dates: list[str] = []
    assert prune_chrome(ours, ours_dates) == reference_prune(reference, reference_dates)
    assert ours_dates == reference_dates
    assert etree.tostring(ours) == etree.tostring(reference)


def test_text_lengths_as_defined() -> None:
    """Comments' tails count, hidden elements' own text does not but their children's tails
    do: libxml2's text nodes give the node-by-node definition's lengths."""
    for page in (TRICKY, *(p.read_bytes() for p in FIXTURES[:15])):
        tree = lxml_html.fromstring(page)
        for element in tree.iter("*"):
            assert boilerplate._text_len(element) == walked_text_len(element)
    tree = lxml_html.fromstring(TRICKY)
    reference = deepcopy(tree)
    # noscript, share, the date before the h1, the sidebar holding the h1 (so "Friday" stays)
    assert prune_chrome(tree) == reference_prune(reference, []) == 4
    assert "Friday" in tree.text_content()
    assert etree.tostring(tree) == etree.tostring(reference)


@pytest.mark.parametrize("path", FIXTURES[::3], ids=lambda p: p.parent.name + "/" + p.stem)
def test_the_parser_builds_trafilaturas_tree(path: Path) -> None:
    raw = path.read_bytes()
    ours, theirs = load_html(raw), trafilatura.load_html(raw)
    assert ours is not None and theirs is not None
    assert etree.tostring(ours) == etree.tostring(theirs)
    assert all(type(e) is lxml_html.HtmlElement for e in ours.iter("*"))
    assert (
        trafilatura.bare_extraction(ours, url=URL).text
        == trafilatura.bare_extraction(theirs, url=URL).text
    )


def test_parser_rejects_what_trafilatura_rejects() -> None:
    for junk in ("", "just words, no markup", b"\x00\x01\x02"):
        assert (load_html(junk) is None) == (trafilatura.load_html(junk) is None)


# Pages that need trafilatura's repairs (so take its way) and pages that do not (parsed from
# their UTF-8 bytes): the same tree either way.
REPAIRS = (
    "<html><body><p>control\x01 and \x0b characters</p></body></html>",
    "<html><body><p>a noncharacter \ufffe and \uffff</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd"/>'
    "\n<html><body><p>slash in the doctype</p></body></html>",
    '<html lang="en"/>\n<head><title>t</title></head><body><p>self-closing html</p></body>',
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>declared encoding</p></body></html>',
    "<html><body><p>a lone surrogate \udc80 here</p></body></html>",
    "<html><head><meta charset='iso-8859-1'></head>"
    "<body><p>Zürich, São Paulo, 東京</p></body></html>",
    "<html></html>",
)


@pytest.mark.parametrize("page", REPAIRS, ids=range(len(REPAIRS)))
def test_parser_repairs_as_trafilatura(page: str) -> None:
    for form in (page, page.encode("utf-8", "surrogatepass")):
        ours, theirs = load_html(form), trafilatura.load_html(form)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert etree.tostring(ours) == etree.tostring(theirs)


def test_readability_is_skipped_only_where_it_cannot_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate changes no text on any fixture page, pruned or not, and it does skip
    readability (which then reads an empty element) on some pages and not on others."""
    from trafilatura import external

    from crawler.extract import readability_gate
    from crawler.extract.readability_gate import readability_gated

    assert readability_gate.SUPPORTED, "the locked trafilatura is the one the gate is written for"
    inputs: list[int] = []  # elements under each readability input
    real = external.try_readability
    monkeypatch.setattr(external, "try_readability", lambda t: inputs.append(len(t)) or real(t))
    for path in FIXTURES:
        for pruned in (False, True):
            tree = trafilatura.load_html(path.read_bytes())
            assert tree is not None
            if pruned:
                prune_chrome(tree)
            stock = trafilatura.bare_extraction(deepcopy(tree), url=URL, include_comments=False)
            with readability_gated():
                gated = trafilatura.bare_extraction(deepcopy(tree), url=URL,
                                                    include_comments=False)  # fmt: skip
            assert (stock and stock.text) == (gated and gated.text), path
    stock_runs, gated_runs = inputs[0::2], inputs[1::2]
    assert all(n > 0 for n in stock_runs)
    skipped = sum(1 for n in gated_runs if n == 0)
    assert 0 < skipped < len(gated_runs), (skipped, len(gated_runs))
    assert readability_gate._extract_and_compare is not trafilatura.core._extract_and_compare


def test_readability_gate_bound() -> None:
    article = "<p>" + "An article sentence of some length. " * 40 + "</p>"
    menu = "".join(f"<li><a href='/s{i}'>Section number {i}</a></li>" for i in range(200))
    short_page = load_html(f"<html><body><ul>{menu}</ul>{article}</body></html>")
    long_page = load_html(f"<html><body><ul>{menu[:400]}</ul>{article}</body></html>")
    assert short_page is not None and long_page is not None
    body = lxml_html.fromstring(f"<div>{article}</div>")  # trafilatura's body: paragraphs
    text = " ".join(body.text_content().split())
    from crawler.extract.readability_gate import readability_cannot_win

    assert not readability_cannot_win(short_page, body, text)  # the menu could outweigh it
    assert readability_cannot_win(long_page, body, text)
    assert not readability_cannot_win(long_page, body, "")  # empty: readability may win
