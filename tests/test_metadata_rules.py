"""Metadata rules (dates, titles, authors), one behaviour at a time, on small inline HTML."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest
from lxml import html as lxml_html

from crawler.extract import dates, metadata, titles

LATEST = datetime(2026, 11, 26, tzinfo=UTC)
URL = "https://www.harbourherald.example/news/story"


def page_of(head: str = "", body: str = "") -> tuple[lxml_html.HtmlElement, metadata.PageData]:
    tree = lxml_html.fromstring(f"<html><head>{head}</head><body>{body}</body></html>")
    return tree, metadata.read_page_data(tree)


def jsonld(obj: str) -> str:
    return f'<script type="application/ld+json">{obj}</script>'


def published(head: str, body: str = "", url: str = URL) -> tuple[str | None, str]:
    tree, page = page_of(head, body)
    return dates.publication_date(tree, page, url, lambda: None, LATEST)


# --- dates -------------------------------------------------------------------------------


def test_published_meta_wins_over_jsonld_when_they_disagree() -> None:
    head = '<meta property="article:published_time" content="2026-03-11T08:00:00+01:00">' + (
        jsonld('{"@type": "NewsArticle", "datePublished": "2025-12-01T10:00:00+01:00"}')
    )
    assert published(head) == ("2026-03-11T08:00:00+01:00", "meta")


def test_generic_date_meta_ranks_below_jsonld() -> None:
    head = '<meta name="date" content="2026-03-12">' + (
        jsonld('{"@type": "NewsArticle", "datePublished": "2026-03-11T19:30:00+01:00"}')
    )
    assert published(head) == ("2026-03-11T19:30:00+01:00", "jsonld")


def test_future_meta_date_is_skipped_for_the_next_source() -> None:
    head = '<meta property="article:published_time" content="2027-05-01T08:00:00Z">' + (
        jsonld('{"@type": "NewsArticle", "datePublished": "2026-03-11"}')
    )
    assert published(head) == ("2026-03-11", "jsonld")


def test_utc_meta_takes_the_local_offset_jsonld_gives_for_the_same_moment() -> None:
    head = '<meta property="article:published_time" content="2026-03-10T23:30:00Z">' + (
        jsonld('{"@type": "NewsArticle", "datePublished": "2026-03-11T00:30:00+01:00"}')
    )
    assert published(head) == ("2026-03-11T00:30:00+01:00", "meta")


def test_naive_meta_time_takes_the_offset_of_the_same_wall_clock_time() -> None:
    head = '<meta property="article:published_time" content="2026-03-11T09:00:00">' + (
        jsonld('{"@type": "NewsArticle", "datePublished": "2026-03-11T09:00:00+01:00"}')
    )
    assert published(head)[0] == "2026-03-11T09:00:00+01:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11.03.2026", "2026-03-11"),
        ("1.3.2026, 14:05", "2026-03-01T14:05:00"),
        ("03/11/2026", "2026-03-11"),  # slashes stay month-first
        ("Wed, 11 Mar 2026 09:30:00 CET", "2026-03-11T09:30:00+01:00"),
        ("Wed, 11 Mar 2026 09:30:00 EDT", "2026-03-11T09:30:00-04:00"),
        ("11 Mar 2026 23:30 PST", "2026-03-11T23:30:00-08:00"),
    ],
)
def test_normalise_date_reads_dotted_dates_and_zone_names(value: str, expected: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dateutil's UnknownTimezoneWarning would fail here
        assert dates.normalise_date(value, LATEST) == expected


def test_unknown_zone_name_is_naive_and_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dates.normalise_date("11 Mar 2026 09:30 XYZT", LATEST) == "2026-03-11T09:30:00"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/2017/7/12/slug/", "2017-07-12"),
        ("https://x.example/news/2026/3/9/slug", "2026-03-09"),
        ("https://x.example/n1/2024/0424/c1001-123.html", "2024-04-24"),
        ("https://x.example/2026/31/12/slug", None),
    ],
)
def test_url_date_unpadded_and_split_forms(url: str, expected: str | None) -> None:
    assert dates.url_date(url) == expected


def test_metadata_still_exports_the_date_functions() -> None:
    assert metadata.publication_date is dates.publication_date
    assert metadata.latest_plausible is dates.latest_plausible


# --- titles ------------------------------------------------------------------------------


def test_entities_in_jsonld_and_meta_are_decoded() -> None:
    _tree, page = page_of(
        jsonld('{"@type": "NewsArticle", "headline": "Stra&szlig;e &quot;gesperrt&quot;"}')
        + '<meta property="og:title" content="Mayor&#039;s plan &#8217;works&#8217;">'
    )
    assert page.article["headline"] == 'Straße "gesperrt"'
    assert page.meta["og:title"] == "Mayor's plan ’works’"


@pytest.mark.parametrize(
    ("title", "site", "sections", "expected"),
    [
        ("港の新しい橋が完成した：港町新聞", "港町新聞", [], "港の新しい橋が完成した"),
        ("항구 다리 공사가 끝났다-정치ㅣ항구신문", "항구신문", ["정치"], "항구 다리 공사가 끝났다"),
        ("Ferry strike ends after talks - Politics | Harbour Herald", "Harbour Herald",
         ["Politics"], "Ferry strike ends after talks"),
    ],
)  # fmt: skip
def test_clean_title_drops_cjk_site_and_section_suffixes(
    title: str, site: str, sections: list[str], expected: str
) -> None:
    assert titles.clean_title(title, site, URL, sections=sections) == expected


def test_clean_title_cuts_after_another_known_headline() -> None:
    title = "Council backs the bridge plan | Northfield News - The Daily Courier"
    known = ["Council backs the bridge plan"]
    assert titles.clean_title(title, None, URL, known=known) == "Council backs the bridge plan"
    # unspaced: "Headline-Section"
    title = "Council backs the bridge plan-Local"
    assert titles.clean_title(title, None, URL, known=known) == "Council backs the bridge plan"


def test_clean_title_keeps_a_headline_whose_first_words_are_a_known_kicker() -> None:
    title = "Bridge vote: the council backs the plan after a decade of debate"
    assert titles.clean_title(title, None, URL, "Bridge vote") == title
    assert titles.clean_title(title, None, URL, known=["Bridge vote: the"]) == title


def test_h1_kicker_and_headline_spans_are_spaced_but_inline_markup_is_not() -> None:
    tree, _ = page_of(body="<h1><span>Harbour strike</span>Ferries stop at noon</h1>")
    assert titles.first_h1(tree) == "Harbour strike Ferries stop at noon"
    tree, _ = page_of(body="<h1>Ferries <em>stop</em> at noon, fe<b>rr</b>ymen say</h1>")
    assert titles.first_h1(tree) == "Ferries stop at noon, ferrymen say"


def test_h1_in_navigation_or_breadcrumb_is_not_the_headline() -> None:
    body = (
        "<nav><ul><li><h1>Section front</h1></li></ul></nav>"
        "<div class='Breadcrumb'><h1>Home</h1></div><main><h1>Ferries stop at noon</h1></main>"
    )
    tree, _ = page_of(body=body)
    assert titles.first_h1(tree) == "Ferries stop at noon"


@pytest.mark.parametrize(
    ("h1", "expected"),
    [
        ("Ferries stop at noon as strike begins", "Ferries stop at noon as strike begins"),
        ("Harbour strike: all ferries halted", "Harbour strike: all ferries halted"),
        (None, "Harbour strike: all ferries halted"),
    ],
)
def test_h1_decides_between_disagreeing_jsonld_and_og_titles(h1: str | None, expected: str) -> None:
    _tree, page = page_of(
        jsonld('{"@type": "NewsArticle", "headline": "Harbour strike: all ferries halted"}')
        + '<meta property="og:title" content="Ferries stop at noon as strike begins">'
    )
    headings = titles.Headings("Harbour strike: all ferries halted | Herald", h1)
    assert titles.headline(page, headings, None, "Herald", URL) == expected


# --- authors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Elena Brunner (ebr); Tom Reyes (tre.)", "Elena Brunner; Tom Reyes"),
        ("Ann Lee; ann-lee", "Ann Lee"),
        ("Jo Smith; JO SMITH", "Jo Smith"),
        ("Jo Smith, professor of history at the University of Northfield, northfield.example",
         "Jo Smith"),
        ("Jo Smith, jo.smith@herald.example", "Jo Smith"),
        ("김민준 기자", "김민준"),
        ("105092", None),
    ],
)  # fmt: skip
def test_clean_author_classes(raw: str, expected: str | None) -> None:
    assert metadata.clean_author(raw) == expected


def test_uncased_single_word_names_look_like_names() -> None:
    assert metadata.looks_like_name("김민준")
    assert not metadata.looks_like_name("jmartin")


def author_of(head: str, body: str = "", fallback: str | None = None) -> str | None:
    tree, page = page_of(head, body)
    return metadata.author(tree, page, lambda: fallback)


def test_jsonld_organisation_beside_a_person_is_kept() -> None:
    head = jsonld(
        '{"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Paula Meier"},'
        ' {"@type": "Organization", "name": "Harbour Press Agency"}]}'
    )
    assert author_of(head) == "Paula Meier; Harbour Press Agency"


def test_jsonld_nested_author_lists_are_flattened() -> None:
    head = jsonld(
        '{"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Paula Meier"},'
        ' [{"@type": "Person", "name": "Harbour Newsroom"}]]}'
    )
    assert author_of(head) == "Paula Meier; Harbour Newsroom"


def test_jsonld_author_reference_is_resolved_in_the_graph() -> None:
    head = jsonld(
        '{"@graph": [{"@type": "NewsArticle", "author": {"@id": "https://h.example/#p1"}},'
        ' {"@type": "Person", "@id": "https://h.example/#p1", "name": "Chris Doyle"}]}'
    )
    assert author_of(head) == "Chris Doyle"


def test_byline_run_together_with_labels_is_read_as_the_meta_name() -> None:
    head = '<meta name="author" content="Jane Doe">'
    body = "<div class='byline'><span>By</span><a>Jane Doe</a><a>Twitter</a></div>"
    assert author_of(head, body) == "Jane Doe"


def test_byline_elements_are_read_with_spaces_between_them() -> None:
    body = "<div class='byline'><span>By</span><a>Jane Doe</a></div>"
    assert author_of("", body) == "Jane Doe"


def test_author_page_link_in_the_article_is_a_byline() -> None:
    body = "<article><p>von <a href='/autoren/name/max-muster'>Dr. Max Muster</a></p></article>"
    assert author_of('<meta name="author" content="HH">', body) == "Dr. Max Muster"


def test_site_name_beside_people_in_a_guessed_list_is_dropped() -> None:
    head = '<meta property="og:site_name" content="Harbour Herald">'
    assert author_of(head, fallback="Harbour Herald; Jane Doe") == "Jane Doe"
    assert author_of(head, fallback="Harbour Herald") is not None  # alone it is kept
