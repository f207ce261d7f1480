"""The project's own extraction rules, one behaviour at a time, on small real HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from trafilatura.metadata import extract_metadata

from crawler.extract import metadata, titles
from crawler.extract.boilerplate import clean_text, is_boilerplate_line, prune_chrome
from crawler.extract.extraction import extract, parse_html
from crawler.extract.trafilatura_metadata import DATE_PARAMS, TrafilaturaMetadata

LATEST = datetime(2026, 11, 26, tzinfo=UTC)
PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of the council report on the Northbridge river crossing, which the "
    f"town has debated for a decade while traffic on the old bridge kept growing.</p>"
    for i in range(8)
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-09-19T09:30:00+00:00", "2023-09-19T09:30:00+00:00"),
        ("2023-09-19T09:30:00Z", "2023-09-19T09:30:00+00:00"),
        ("2023-09-19", "2023-09-19"),
        ("2026-11-03T10:15:00+01:00", "2026-11-03T10:15:00+01:00"),
        ("Tue, 19 Sep 2023 09:30:00 GMT", "2023-09-19T09:30:00+00:00"),
        ("September 19, 2023", "2023-09-19"),
        ("2027-01-01", None),  # after the fetch: not a publication date
        ("1970-01-01", None),
        ("yesterday-ish", None),
        ("", None),
    ],
)
def test_normalise_date(value: str, expected: str | None) -> None:
    assert metadata.normalise_date(value, LATEST) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/world/2026/10/05/slug/", "2026-10-05"),
        ("https://x.example/2026-10-05/slug", "2026-10-05"),
        ("https://x.example/news/20261005/slug", "2026-10-05"),
        ("https://x.example/2026/13/05/slug", None),
        ("https://x.example/story-20261005.html", None),
    ],
)
def test_url_date(url: str, expected: str | None) -> None:
    assert metadata.url_date(url) == expected


@pytest.mark.parametrize(
    ("title", "site", "h1", "expected"),
    [
        ("Ferry strike ends - The Harbour Herald", "The Harbour Herald", None, "Ferry strike ends"),
        ("Northfield Post | Council backs bridge", "Northfield Post", None, "Council backs bridge"),
        ("La grève prend fin – Le Courrier", None, "La grève prend fin", "La grève prend fin"),
        ("Q&A: what the vote means - harbourherald", None, None, "Q&A: what the vote means"),
        ("Mayor says: no more delays", "The Harbour Herald", None, "Mayor says: no more delays"),
    ],
)
def test_clean_title(title: str, site: str | None, h1: str | None, expected: str) -> None:
    assert titles.clean_title(title, site, "https://www.harbourherald.example/x", h1) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Maren Lindqvist", "Maren Lindqvist"),
        ("Von Hannah Vollmer und Tobias Achterberg", "Hannah Vollmer; Tobias Achterberg"),
        ("Par Élise Morand", "Élise Morand"),
        ("Por Lucía Ferrer y Andrés Gil", "Lucía Ferrer; Andrés Gil"),
        ("By Lena Holloway, Business Editor, and Tom Reyes", "Lena Holloway; Tom Reyes"),
        ("By Jenna Martin, Staff Writer", "Jenna Martin"),
        ("By Ann Writer-Hale and Bo Chen", "Ann Writer-Hale; Bo Chen"),
        ("https://x.example/author/jo", None),
        ("", None),
    ],
)
def test_clean_author(raw: str, expected: str | None) -> None:
    assert metadata.clean_author(raw) == expected


@pytest.mark.parametrize(
    "line",
    [
        "May You Like: Dallas Cowboys American Team",
        "ALSO READ: Council backs bridge plan",
        "Read more: Why the ferry strike ended",
        "You may also like",
        "Lesen Sie auch: Windpark genehmigt",
        "Mehr zum Thema: Energiewende in Lindenau",
        "À lire aussi : La grève prend fin",
        "Lire aussi: le port en crue",
        "Lee también: El puerto se inunda",
        "Te puede interesar: Sequía en Verano",
        "Advertisement",
        "Photo: Jane Roe / Harbour Agency",
        "Sign up for the Morning Brief newsletter",
        "Please enter your comment!",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Read more about the plan in the council's own report, which was published on Monday.",
        "Related parties must declare their interests before the vote, the mayor said.",
        "The photo shows the bridge in 1920.",
        "Trending upward: prices rose 4% in October as the harbour reopened.",
    ],
)
def test_article_sentences_are_not_boilerplate(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_clean_text_drops_teasers_and_leading_headline() -> None:
    text = "Bridge vote passes\nFirst paragraph.\nMay You Like: Other story\nLast paragraph."
    assert clean_text(text, "Bridge vote passes") == "First paragraph.\nLast paragraph."


def test_prune_chrome_removes_widgets_but_never_the_content() -> None:
    tree = lxml_html.fromstring(
        "<html><body><div class='td_data_time'><div>Thursday, February 29, 2024</div></div>"
        "<div class='share-bar'>Share on Facebook</div>"
        f"<div class='content-area has-sidebar'><article><h1>Bridge</h1>{PARAGRAPHS}</article>"
        "</div><aside class='widget widget_recent_comments'><h3>Recent Comments</h3></aside>"
        "</body></html>"
    )
    assert prune_chrome(tree) == 3
    text = tree.text_content()
    assert "Paragraph 7" in text  # the has-sidebar wrapper holds the article: kept
    for gone in ("February 29", "Share on Facebook", "Recent Comments"):
        assert gone not in text


def test_prune_chrome_keeps_a_blog_date_header_on_a_page_without_h1() -> None:
    tree = lxml_html.fromstring(
        "<html><body><div class='date-outer'><h2 class='date-header'><span>"
        f"Thursday, February 29, 2024</span></h2><div class='post'>{PARAGRAPHS}</div></div>"
        "</body></html>"
    )
    assert prune_chrome(tree) == 0
    assert "February 29" in tree.text_content()


@pytest.mark.parametrize(
    "container",
    [
        "<div class='article-widget article-widget-text'>{}</div>",  # page-builder block
        "<div class='widget Blog' id='Blog1'>{}</div>",  # blog theme's post container
        "<div class='comment-article'>{}</div>",  # an opinion piece
        "<div class='sidebar-free'><p>x</p></div><div class='ads-free'>{}</div>",
    ],
)
def test_prune_chrome_keeps_prose_in_weakly_named_containers(container: str) -> None:
    prose = "".join(f"<div>Sentence {i} of the post, told plainly and at length.<br></div>"
                    for i in range(12))  # fmt: skip
    related = "".join(f"<li><a href='/s{i}'>Other story number {i}</a></li>" for i in range(12))
    tree = lxml_html.fromstring(
        f"<html><body><h1>Post</h1>{container.format(prose)}"
        f"<div class='widget'><ul>{related}</ul></div><div>{'Footer text. ' * 200}</div>"
        "</body></html>"
    )
    prune_chrome(tree)
    text = tree.text_content()
    assert "Sentence 11 of the post" in text
    assert "Other story number 3" not in text  # a widget of links is still chrome


def page(head: str = "", body_top: str = "", url_path: str = "/news/bridge-vote/") -> str:
    return (
        f"<html lang='en'><head><title>Bridge vote passes - Northfield Post</title>{head}</head>"
        f"<body><header><div class='current-date'>Thursday, February 29, 2024</div></header>"
        f"<article><h1>Bridge vote passes</h1>{body_top}{PARAGRAPHS}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("html", "url_path", "date", "source"),
    [
        (
            page(
                head='<script type="application/ld+json">{"@type": "NewsArticle", '
                '"datePublished": "2026-10-05T08:00:00+02:00", '
                '"dateModified": "2026-10-06T09:00:00+02:00"}</script>',
                body_top='<time datetime="2026-10-01">1 Oct</time>',
            ),
            "/news/bridge-vote/",
            "2026-10-05T08:00:00+02:00",
            "jsonld",
        ),
        (
            page(
                head='<meta property="article:published_time" content="2026-10-04T07:00:00Z">',
                body_top='<time datetime="2026-10-01">1 Oct</time>',
            ),
            "/2026/09/30/bridge/",
            "2026-10-04T07:00:00+00:00",
            "meta",
        ),
        (
            page(body_top='<time class="entry-date published" datetime="2026-10-03">3 Oct</time>'),
            "/2026/09/30/bridge/",
            "2026-10-03",
            "time",
        ),
        (page(), "/2026/09/30/bridge/", "2026-09-30", "url"),
    ],
)
def test_date_order_of_trust(html: str, url_path: str, date: str, source: str) -> None:
    result = extract(html, "https://post.example" + url_path, fetched_at="2026-11-25T00:00:00Z")
    assert result.article is not None
    assert (result.article.date, result.date_source) == (date, source)
    assert "2024-02-29" not in str(result.article.date)


def test_widget_date_never_wins_even_as_last_resort() -> None:
    result = extract(page(), "https://post.example/news/bridge-vote/")
    assert result.article is not None
    assert (result.article.date, result.date_source) == (None, "none")  # no date beats a wrong one


def test_language_detected_when_undeclared() -> None:
    german = "".join(
        f"<p>Der Gemeinderat von Lindenau hat am Dienstag den Bau der neuen Brücke beschlossen, "
        f"nachdem die Stadt zehn Jahre lang über Kosten und Verkehr gestritten hatte ({i}).</p>"
        for i in range(6)
    )
    html = f"<html><head><title>Brücke</title></head><body><article>{german}</article></body>"
    result = extract(html, "https://lindenau.example/brücke")
    assert result.article is not None and result.article.language == "de"


def test_extract_never_raises_on_junk() -> None:
    junks = (b"", b"\x00\xff\xfe" * 100, b"<html>", "<p>ä</p>" * 3, b"<?xml version='1.0'?><a/>")
    for junk in junks:
        result = extract(junk, "https://x.example/")
        assert result.article is None or result.not_article


def test_lazy_trafilatura_metadata_gives_trafilaturas_values() -> None:
    """crawler.extract.trafilatura_metadata reads trafilatura's metadata fields lazily; on every
    fixture page (pruned as the extraction prunes them) each field equals what trafilatura's
    own extract_metadata gives, and reading them leaves the tree as it was."""
    pages = sorted((Path(__file__).parent / "fixtures").rglob("*.html"))
    assert len(pages) >= 40
    authors_guessed = dates_guessed = 0
    for path in pages:
        url = "https://news.example.org/2026/03/01/story/"
        tree = parse_html(path.read_bytes())
        assert not isinstance(tree, str), path
        prune_chrome(tree)
        before = etree.tostring(tree)
        expected = extract_metadata(tree, url, dict(DATE_PARAMS), True, set())
        lazy = TrafilaturaMetadata(tree, url)
        got = (lazy.title, lazy.sitename, lazy.description, lazy.tags, lazy.author, lazy.date)
        want = (expected.title, expected.sitename, expected.description, expected.tags or [],
                expected.author, expected.date)  # fmt: skip
        assert got == want, path
        assert etree.tostring(tree) == before, f"{path}: the tree was changed"
        authors_guessed += lazy._meta_author is None and lazy.author is not None
        dates_guessed += lazy.date is not None
    assert authors_guessed >= 3 and dates_guessed >= 20, "the heuristics were hardly exercised"
