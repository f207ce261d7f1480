"""Publication-date rules, one class of page at a time, on small hand-written HTML; and the
seed theme's date read back through `scrapy extract` from a page served on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html

from crawler.demo.server import DemoServer
from crawler.extract import date_text, dates, metadata
from tests.conftest import ALLOW_LOOPBACK, scrapy

LATEST = datetime(2026, 11, 26, tzinfo=UTC)
URL = "https://www.harbourherald.example/news/story"
TITLE = "Harbour bridge reopens after repairs"
BODY = "<p>" + "The bridge carried its first traffic in months on Tuesday morning. " * 8 + "</p>"


def published(
    head: str = "", body: str = "", url: str = URL, guess: str | None = None
) -> tuple[str | None, str]:
    tree = lxml_html.fromstring(
        f"<html lang='de'><head><title>{TITLE} - Harbour Herald</title>{head}</head>"
        f"<body>{body}</body></html>"
    )
    page = metadata.read_page_data(tree)
    return dates.publication_date(tree, page, url, lambda: guess, LATEST)


def jsonld(obj: str) -> str:
    return f'<script type="application/ld+json">{obj}</script>'


# --- reading dates as pages write them ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("von Anna Muster · 12. März 2019", date(2019, 3, 12)),
        ("Par Loïc Le Clerc | 30 septembre 2018", date(2018, 9, 30)),
        ("Publicado el 3 de mayo de 2022", date(2022, 5, 3)),
        ("Updated Mar 12, 2020 @ 10:42 am", date(2020, 3, 12)),
        ("1er janvier 2019", date(2019, 1, 1)),
        ("Stand: 28.04.2020 18:00 Uhr", date(2020, 4, 28)),
        ("Written: 2023-11-07 15:03:30", date(2023, 11, 7)),
        ("12/31/2019", date(2019, 12, 31)),  # month-first, whatever the page's language
        ("Marketing 12, 2019", None),  # not a month name
    ],
)
def test_text_dates_in_several_languages(text: str, expected: date | None) -> None:
    assert date_text.parse_text_date(text) == expected


def test_ambiguous_numeric_date_keeps_its_other_reading() -> None:
    ((day, other, _),) = list(date_text.text_dates("11/01/2021"))
    assert (day, other) == (date(2021, 1, 11), date(2021, 11, 1))
    ((day, other, _),) = list(date_text.text_dates("11/01/2021", month_first=True))
    assert (day, other) == (date(2021, 11, 1), date(2021, 1, 11))


# --- the date shown beside the headline ---------------------------------------------------


def test_byline_date_below_the_headline_beats_htmldate() -> None:
    body = f"<h1>{TITLE}</h1><div class='meta'>von eseppelt · 31. Oktober 2023</div>{BODY}"
    assert published(body=body, guess="2020-12-03") == ("2023-10-31", "text")


def test_related_posts_published_time_loses_to_the_shown_date() -> None:
    related = (
        "<div class='related-inner'><time class='published' datetime='2020-12-03T07:32:49'>"
        "3. Dezember 2020</time></div>"
    )
    body = f"<h1>{TITLE}</h1><p>Redaktion · 31. Oktober 2023</p>{BODY}{related}"
    assert published(body=body) == ("2023-10-31", "text")


def test_weaker_source_that_agrees_with_the_shown_date_keeps_its_time() -> None:
    body = (
        f"<article><h1>{TITLE}</h1><time class='entry-date published' "
        f"datetime='2023-10-31T09:15:00+01:00'>31. Oktober 2023</time>{BODY}</article>"
    )
    assert published(body=body) == ("2023-10-31T09:15:00+01:00", "time")


def test_generic_date_meta_loses_to_the_shown_date() -> None:
    head = '<meta name="date" content="2021-10-15">'
    body = f"<h1>{TITLE}</h1><span class='date'>13.10.2021</span>{BODY}"
    assert published(head, body) == ("2021-10-13", "text")


def test_a_sentence_mentioning_a_date_is_not_the_date_line() -> None:
    body = (
        f"<h1>{TITLE}</h1><p>Der nächste Stammtisch findet am Mi. 5. Februar 2020 ab 19 Uhr "
        f"im <a href='/cafe'>Cafe</a> statt.</p>{BODY}"
    )
    assert published(body=body, guess="2020-01-29") == ("2020-01-29", "htmldate")


def test_logo_h1_is_not_taken_for_the_headline() -> None:
    body = (
        "<header><h1 class='logo'>Harbour Herald</h1><span>Mittwoch, 26.02.2020</span>"
        f"<nav><a href='/'>Start</a></nav></header><h1>{TITLE}</h1>"
        f"<span class='current'>01.05.2017</span>{BODY}"
    )
    assert published(body=body) == ("2017-05-01", "text")


def test_date_line_above_the_headline_when_none_below() -> None:
    body = f"<h2 class='date-header'>Freitag, 5. Juni 2015</h2><h1>{TITLE}</h1>{BODY}"
    assert published(body=body) == ("2015-06-05", "text")


def test_first_of_two_date_lines_above_the_headline() -> None:
    body = (
        "<div class='post__date'><p>28. Juni 2025 - 16.03 Uhr</p>"
        f"<p>Akt.: 29. Juni 2025 - 21.18 Uhr</p></div><h1>{TITLE}</h1>{BODY}"
    )
    assert published(body=body) == ("2025-06-28", "text")


def test_today_widget_above_the_headline_is_never_the_date() -> None:
    body = f"<div class='today'>Mittwoch, 25. November 2026</div><h1>{TITLE}</h1>{BODY}"
    assert published(body=body, guess=None) == (None, "none")


def test_date_above_the_headline_in_the_page_header_is_not_the_articles() -> None:
    body = (
        "<header><div class='current-date'>Thursday, February 29, 2024</div></header>"
        f"<article><h1>{TITLE}</h1>{BODY}</article>"
    )
    assert published(body=body, url=URL + "/2026/09/30/bridge/") == ("2026-09-30", "url")


def test_theme_hidden_updated_time_beside_the_published_one() -> None:
    """WordPress's posted-on holds both; the theme shows the "updated" one only after edits."""
    head = jsonld(
        '{"@type": "NewsArticle", "datePublished": "2025-04-29T07:45:00+01:00", '
        '"dateModified": "2025-04-30T11:20:00+01:00"}'
    )
    body = (
        f"<h1>{TITLE}</h1><span class='posted-on'><time class='updated' "
        "datetime='2025-04-30T11:20:00+01:00' itemprop='dateModified'>April 30, 2025</time>"
        "<time class='entry-date published' datetime='2025-04-29T07:45:00+01:00'>"
        f"April 29, 2025</time></span>{BODY}"
    )
    assert published(head, body) == ("2025-04-29T07:45:00+01:00", "jsonld")


# --- the shown date against structured data -----------------------------------------------


def test_utc_time_near_midnight_takes_the_local_day_the_page_shows() -> None:
    head = '<meta property="article:published_time" content="2018-12-31T23:11:59+00:00">'
    body = f"<h1>{TITLE}</h1><h2>2019-01-01</h2>{BODY}"
    assert published(head, body) == ("2019-01-01", "text")


def test_shown_date_agreeing_with_another_structured_date_wins() -> None:
    head = '<meta name="datepublished" content="2019-10-18">' + jsonld(
        '{"@type": "NewsArticle", "datePublished": "2019-10-19T03:00:00.000Z"}'
    )
    body = f"<h1>{TITLE}</h1><time datetime='2019-10-19T03:00:00.000Z'>19.10.2019, 05:00 Uhr</time>"
    assert published(head, body + BODY) == ("2019-10-19T03:00:00+00:00", "time")


def test_page_showing_its_update_as_its_date() -> None:
    head = jsonld(
        '{"@type": "NewsArticle", "datePublished": "2019-10-15T16:59:59.000Z", '
        '"dateModified": "2020-03-12T14:42:17.000Z"}'
    )
    body = f"<h1>{TITLE}</h1><div class='byline'>Jessica Doe Updated Mar 12, 2020</div>{BODY}"
    assert published(head, body) == ("2020-03-12", "text")


def test_live_blog_header_showing_its_latest_entry_keeps_the_published_date() -> None:
    head = jsonld(
        '{"@type": "LiveBlogPosting", "datePublished": "2026-05-08T09:00:00+01:00", '
        '"dateModified": "2026-05-09T00:20:00+01:00"}'
    )
    body = f"<h1>{TITLE}</h1><p><time datetime='2026-05-09T00:20:00+01:00'>Sat 9 May 2026</time>"
    assert published(head, body + BODY) == ("2026-05-08T09:00:00+01:00", "jsonld")


def test_update_time_shown_without_its_date_does_not_count() -> None:
    """Only "11:46" is shown: the reader never sees the update's day."""
    head = jsonld(
        '{"@type": "NewsArticle", "datePublished": "2025-06-29T17:29:54.000Z", '
        '"dateModified": "2025-06-30T11:46:00.000Z"}'
    )
    body = f"<h1>{TITLE}</h1><time datetime='2025-06-30T11:46:00.000Z'>11:46</time>{BODY}"
    assert published(head, body) == ("2025-06-29T17:29:54+00:00", "jsonld")


def test_shown_time_of_another_moment_than_the_update_does_not_count() -> None:
    head = jsonld(
        '{"@type": "NewsArticle", "datePublished": "2023-10-07T09:53:36+02:00", '
        '"dateModified": "2024-07-18T13:08:27+02:00"}'
    )
    body = f"<h1>{TITLE}</h1><time datetime='2024-07-18T09:08:27Z'>18.07.2024, 11.08 Uhr</time>"
    assert published(head, body + BODY) == ("2023-10-07T09:53:36+02:00", "jsonld")


def test_shown_date_far_from_the_published_one_does_not_replace_it() -> None:
    head = '<meta property="article:published_time" content="2025-05-29T20:00:27Z">'
    body = f"<h1>{TITLE}</h1><span class='kicker'>15. Mai 2025</span>{BODY}"
    assert published(head, body) == ("2025-05-29T20:00:27+00:00", "meta")


def test_ambiguous_shown_date_read_the_way_the_structured_date_is() -> None:
    head = '<meta property="article:published_time" content="2021-11-01T04:00:14Z">'
    body = f"<span>11/01/2021</span><h1>{TITLE}</h1>{BODY}"
    assert published(head, body) == ("2021-11-01T04:00:14+00:00", "meta")


# --- a WordPress theme's "updated" date -----------------------------------------------------


def test_theme_updated_time_is_the_date_when_nothing_else_is() -> None:
    """No <h1> to stand beside: the theme's hAtom "updated" <time> still names the post."""
    body = (
        "<div class='td_data_time'>Wednesday, November 25, 2026</div><div class='tdb-title'>"
        f"{TITLE}</div><time class='entry-date updated td-module-date' "
        f"datetime='2023-09-20T11:15:00+03:00'>September 20, 2023</time>{BODY}"
        "<div class='td_block_related_posts'><time class='entry-date updated td-module-date' "
        "datetime='2023-09-01T08:00:00+03:00'>September 1, 2023</time></div>"
    )
    assert published(body=body, guess="2026-11-25") == ("2023-09-20T11:15:00+03:00", "time")


def test_weaker_structured_sources_when_nothing_is_shown() -> None:
    """With no JSON-LD, meta or shown date: microdata's datePublished `content`, then a <time>
    in the post's meta line, before the URL's date; a <time> elsewhere is not the post's."""
    url = "https://www.harbourherald.example/2021/01/05/bridge-reopens"
    microdata = "<span itemprop='datePublished' content='2023-09-18'></span>"
    meta_line = (
        "<div class='post-meta clearfix'><span><time datetime='2023-09-20T11:15:00+03:00'>"
        "vor drei Jahren</time></span></div>"
    )
    sidebar = "<div class='widget'><time datetime='2022-01-01T08:00:00Z'>neu</time></div>"
    assert published(body=f"{sidebar}{microdata}{meta_line}{BODY}", url=url) == (
        "2023-09-18",
        "meta",
    )
    assert published(body=f"{sidebar}{meta_line}{BODY}", url=url) == (
        "2023-09-20T11:15:00+03:00",
        "time",
    )
    assert published(body=f"{sidebar}{BODY}", url=url) == ("2021-01-05", "url")


def _tagdiv_page(today: str) -> str:
    """A tagDiv "Newspaper" (cloud template) article page as ../shared/seed shows one: the
    header's "today" widget, breadcrumbs, the post's only date as hAtom "updated", comment
    prompts and a "Most Popular" list with other posts' dates. No meta or JSON-LD date."""
    paragraphs = "".join(
        f"<p>The Ministry of Defense stated on Tuesday that it had begun an operation in the "
        f"disputed region, after reports of shelling on the capital ({i}). Officials on both "
        f"sides gave differing accounts of the fighting and of the casualties.</p>"
        for i in range(6)
    )
    popular = "".join(
        f"<div class='td_module_flex td_module_flex_1 td_module_wrap'><h3 class='entry-title'>"
        f"<a href='/latest/story-{i}/'>Another story number {i}</a></h3>"
        f"<span class='td-post-date'><time class='entry-date updated td-module-date' "
        f"datetime='2023-09-{10 + i}T08:00:00+03:00'>September {10 + i}, 2023</time></span></div>"
        for i in range(3)
    )
    return (
        "<!doctype html><html lang='en-US'><head><meta charset='utf-8'>"
        "<title>Azerbaijan's Military Operation in Nagorno-Karabakh - The Demo Gazette</title>"
        "<meta property='og:type' content='article'></head>"
        "<body class='post-template-default single single-post td-standard-pack'>"
        "<div class='td-header-wrap'><div class='td-header-top-menu'>"
        f"<div class='td_data_time'><div>{today}</div></div>"
        "<ul class='top-header-menu'><li><a href='/about/'>About Us</a></li>"
        "<li><a href='/contact/'>Contact</a></li></ul></div></div>"
        "<div class='td-main-content-wrap'><div class='tdb-breadcrumbs'>"
        "<a href='/'>Home</a> <a href='/latest/'>Latest</a></div>"
        "<div class='tdb_title'><h1 class='tdb-title-text'>Azerbaijan's Military Operation in"
        " Nagorno-Karabakh</h1></div>"
        "<div class='tdb_single_date'><div class='tdb-block-inner td-fix-index'>"
        "<time class='entry-date updated td-module-date' datetime='2023-09-20T11:15:00+03:00'>"
        "September 20, 2023</time></div></div>"
        f"<div class='tdb_single_content'><div class='tdb-block-inner'>{paragraphs}</div></div>"
        "<div class='comment-respond'><p>Please enter your comment!</p>"
        "<p>Please enter your name here</p></div>"
        f"<div class='td_block_wrap'><h4 class='block-title'>Most Popular</h4>{popular}</div>"
        "</div></body></html>"
    )


def test_tagdiv_updated_date_through_scrapy_extract(tmp_path: Path) -> None:
    """The seed theme, fetched from 127.0.0.1 by the real CLI: the post's date, never the
    header widget's "today" (the day of the fetch) nor a listed post's date."""
    now = datetime.now(UTC)
    today = f"{now:%A}, {now:%B} {now.day}, {now.year}"
    story = tmp_path / "latest" / "azerbaijans-military-operation" / "index.html"
    story.parent.mkdir(parents=True)
    story.write_text(_tagdiv_page(today), encoding="utf-8")
    with DemoServer(root=tmp_path) as server:
        url = server.base_url + "/latest/azerbaijans-military-operation/"
        result = scrapy("extract", url, "-s", "LOG_LEVEL=WARNING", "-s", ALLOW_LOOPBACK)
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert record["not_article"] is None
    assert record["date"] == "2023-09-20T11:15:00+03:00"
    assert not record["date"].startswith(now.date().isoformat())  # not the widget's day
