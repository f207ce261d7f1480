"""Issue #23 (CPU per page): the cheaper ways of doing the same work give the same results.

- prune_chrome (libxml2-collected text lengths, one pre-order walk) prunes exactly as the
  straightforward rules below, kept here as the reference, on every fixture page;
- the project's parser (crawler.extract.parsing) builds the same trees as trafilatura's;
- WARC records compressed by zlib-ng are plain gzip members, read by gzip and warcio (a
  real crawl's WARCs are checked by warcio, cdxj-indexer and pywb in test_archive_tools).
"""

from __future__ import annotations

import gzip
from copy import deepcopy
from io import BytesIO
from pathlib import Path

import pytest
import trafilatura
from lxml import etree
from lxml import html as lxml_html
from warcio.archiveiterator import ArchiveIterator

from crawler.extract import boilerplate
from crawler.extract.boilerplate import prune_chrome
from crawler.extract.parsing import load_html
from pipelines.warc_writer import GzipMemberWARCWriter

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
    for element in tree.iter("*"):
        if not isinstance(element.tag, str) or element is tree or element is body:
            continue
        if element.tag == "h1":
            before_h1 = False
        if element.getparent() in inside:
            inside.add(element)
            continue
        if element.tag in ("article", "main"):
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


def test_zlib_ng_members_are_plain_gzip(tmp_path: Path) -> None:
    out = BytesIO()
    writer = GzipMemberWARCWriter(out)
    bodies = [b"<html><body>" + f"<p>Story {i}. </p>".encode() * 300 + b"</body></html>"
              for i in range(3)]  # fmt: skip
    for i, body in enumerate(bodies):
        record = writer.create_warc_record(
            f"https://news.example.org/{i}", "resource", payload=BytesIO(body),
            length=len(body), warc_content_type="text/html",
        )  # fmt: skip
        writer.write_record(record)
    data = out.getvalue()
    assert data[:3] == b"\x1f\x8b\x08"  # gzip, deflate
    assert data.count(b"\x1f\x8b\x08\x00") >= len(bodies)  # a member per record
    assert b"Story 2." in gzip.decompress(data)
    read = [r.content_stream().read() for r in ArchiveIterator(BytesIO(data))]
    assert read == bodies
    path = tmp_path / "zlib-ng.warc.gz"
    path.write_bytes(data)
    from tests.test_warc_capture import warcio_check

    warcio_check(path)
