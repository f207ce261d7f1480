"""Our faster forms of two trafilatura heuristics give what trafilatura's own give, on every
fixture page and on crafted cases: crawler.extract.author_guess (extract_author: each of its
expressions, and the sections it deletes first, their tails joined to the text before them as
trafilatura's delete_element does) and trafilatura_metadata.page_tags (extract_catstags "tag")."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from trafilatura.metadata import extract_author, extract_catstags

from crawler.extract.author_guess import guess_author
from crawler.extract.extraction import parse_html
from crawler.extract.trafilatura_metadata import page_tags

LONG = "word " * 30  # a text over the 120-character limit


def _both(html: str) -> tuple[str | None, str | None]:
    tree = parse_html(html)
    before = etree.tostring(tree)
    ours = guess_author(tree)
    assert etree.tostring(tree) == before, "the tree was changed"
    return ours, extract_author(tree)


@pytest.mark.parametrize(
    "body",
    [
        "<span class='author-name'>Jane Roe</span>",
        "<div class='AuthorName'>Jane Roe</div>",
        "<a rel='author' href='/j'>Jane Roe</a>",
        "<p itemprop='author name'>Jane Roe</p>",
        "<div data-testid='AuthorCard'>Jane Roe</div>",
        "<author>Jane Roe</author>",
        "<span><rel>me</rel>Jane Roe</span>",
        "<h4 class='posted-by'>Jane Roe</h4>",
        "<span id='zuozhe'>Li Wei</span>",
        "<section data-component='Byline'>Jane Roe</section>",
        "<em class='writer'>Jane Roe</em>",
        "<li itemprop='author'>Jane Roe</li>",
        "<span class='byl'>Jane Roe</span>",
        # the first expression's element is too long: the next expressions are tried
        f"<div class='author-name'>{LONG}</div><h3 class='byline'>Jane Roe</h3>",
        f"<div class='author-name'>{LONG}</div><b class='Byline'>Jane Roe</b>",
        # deleted sections: comments, sidebars, dates, figures
        "<div id='comments'><span class='author'>Commenter Name</span></div>"
        "<i class='writer'>Jane Roe</i>",
        "<div class='sidebar-box'><span class='author'>Other Writer</span></div>",
        "<figure><figcaption class='author'>Photo Person</figcaption></figure>",
        "<span class='author'>By Jane<time>3 March</time>Roe and Max Muster</span>",
        "<span class='author'>Jane Roe<span class='date'>today</span> and Max Muster</span>",
        "<div class='author'><figure>x</figure><time>y</time>tail Jane Roe</div>",
        "<span class='author'>http://example.org/jane</span>",
        "<span class='author'>Jo</span><span class='byline'>Jane Roe</span>",
        "<p>No author at all.</p>",
    ],
)
def test_crafted_cases_match_trafilatura(body: str) -> None:
    html = f"<html><body><article><h1>Title</h1>{body}<p>Text.</p></article></body></html>"
    ours, theirs = _both(html)
    assert ours == theirs, body


TAG_LINKS = "<a href='/tag/ferries/'>Ferries</a><a href='/tags/harbour/'>Harbour</a>"


@pytest.mark.parametrize(
    "body",
    [
        f"<div class='tags'>{TAG_LINKS}</div>",
        f"<p class='entry-tags small'>{TAG_LINKS}</p>",
        f"<div class='tagcloud'>{TAG_LINKS}</div>",
        f"<div class='postmeta'>{TAG_LINKS}</div>",
        f"<div class='row'>{TAG_LINKS}</div>",
        f"<section class='entry-meta'>{TAG_LINKS}</section>",
        f"<ul class='article-topics'><li>{TAG_LINKS}</li></ul>",
        f"<span class='tags-links'>{TAG_LINKS}</span>",
        # nested containers: each link once, in document order
        f"<div class='meta'><div class='tagbox'>{TAG_LINKS}</div><a href='/tag/x/'>X</a></div>",
        # an earlier expression without tag links gives way to a later one
        "<div class='tags'><a href='/about/'>About</a></div>"
        f"<div class='topics'>{TAG_LINKS}</div>",
        f"<div class='Tags'>{TAG_LINKS}</div>",  # no test takes it
        "<div class='tags'><a>no href</a><a href='/category/x/'>Category</a></div>",
    ],
)
def test_page_tags_match_trafilatura(body: str) -> None:
    tree = parse_html(f"<html><body><article><h1>T</h1>{body}</article></body></html>")
    assert page_tags(tree) == extract_catstags("tag", tree), body


def test_every_fixture_page_matches_trafilatura() -> None:
    pages = sorted((Path(__file__).parent / "fixtures").rglob("*.html"))
    assert len(pages) >= 40
    authors = tags = 0
    for path in pages:
        html = path.read_bytes().decode("utf-8", "replace")
        ours, theirs = _both(html)
        assert ours == theirs, path
        authors += theirs is not None
        tree = parse_html(html)
        assert page_tags(tree) == extract_catstags("tag", tree), path
        tags += bool(page_tags(tree))
    assert authors >= 5 and tags >= 1, "the heuristics were hardly exercised"
