"""The extraction's general classes of page and text (issue #12), each on a small page written
for the class, and the same classes through the real path: `scrapy extract` fetching real bytes
(gzip, no Content-Length) from a server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json

import pytest
from lxml import html as lxml_html

from crawler.extract.boilerplate import clean_text, is_boilerplate_line
from crawler.extract.edges import strip_header, strip_summary, strip_trailer
from crawler.extract.embedded import embedded_text
from crawler.extract.extraction import extract, looks_like_navigation
from crawler.extract.pagetype import looks_like_article_url, text_size
from crawler.extract.teasers import drop_teasers
from tests.conftest import ALLOW_LOOPBACK, scrapy
from tests.test_hostile import HostileSite, Page

FETCHED = "2026-03-02T12:00:00Z"
SENTENCES = [
    f"Sentence {i}: the harbour board met on Tuesday to weigh the ferry timetable, and the "
    "councillors agreed to publish every figure before the spring meeting of the town."
    for i in range(8)
]
PROSE = "".join(f"<p>{s}</p>" for s in SENTENCES)


def article_page(body: str, head: str = "", h1: str = "Ferry timetable to change") -> str:
    return (
        f"<html lang='en'><head><title>{h1} | Harbour Herald</title>{head}</head><body>"
        f"<header><nav><a href='/'>Home</a><a href='/news/'>News</a></nav></header>"
        f"<main><article><h1>{h1}</h1>{body}</article></main></body></html>"
    )


# --- page types: dropped only on strong evidence ------------------------------------------------


def test_a_bare_list_of_links_is_never_an_article() -> None:
    items = "".join(
        f"<li><a href='/story-{i}/'>Story {i} of the harbour</a></li>" for i in range(40)
    )
    result = extract(
        article_page(f"<ul>{items}</ul>"), "https://herald.example/news/story/", fetched_at=FETCHED
    )
    assert result.not_article in ("link_list", "too_short")  # dropped either way


def test_a_short_japanese_article_is_not_too_short() -> None:
    sentence = "南海トラフ地震の評価検討会は{}日、臨時の会合を開き、巨大地震の発生可能性を調べた。"
    body = "".join(f"<p>{sentence.format(i)}{sentence.format(i + 10)}</p>" for i in range(3))
    page = article_page(body, h1="南海トラフで臨時調査").replace("lang='en'", "lang='ja'")
    result = extract(page, "https://news.example.jp/article/123", fetched_at=FETCHED)
    assert result.article is not None and result.not_article is None
    assert result.article.page_type == "article"
    assert text_size("南海トラフ") == 15  # a Han or kana character weighs three


def test_doubtful_pages_are_stored_with_their_type() -> None:
    listing = '<script type="application/ld+json">{"@type": "CollectionPage"}</script>'
    result = extract(
        article_page(PROSE, head=listing),
        "https://herald.example/news/ferry-timetable-special-report/",
        fetched_at=FETCHED,
    )
    assert result.not_article is None  # one listing signal and prose: stored, as a listing
    assert (result.article.page_type, result.article.page_type_reason) == (
        "listing",
        "listing_markup",
    )
    result = extract(
        article_page(PROSE, head=listing),
        "https://herald.example/topics/ferry/",
        fetched_at=FETCHED,
    )
    assert result.not_article == "listing_markup"  # markup and a listing URL: dropped
    paywall = (
        '<script type="application/ld+json">'
        '{"@type": "NewsArticle", "isAccessibleForFree": false}</script>'
    )
    result = extract(
        article_page(PROSE[:700], head=paywall),
        "https://herald.example/news/a/",
        fetched_at=FETCHED,
    )
    assert result.not_article is None and result.article.page_type == "paywall"


def test_og_website_is_no_listing_and_root_with_an_item_query_is_no_front_page() -> None:
    head = (
        '<meta property="og:type" content="website">'
        '<script type="application/ld+json">{"@type": "WebSite", "name": "Herald"}</script>'
    )
    for url in ("https://herald.example/news/ferry/", "https://herald.example/?p=1234"):
        result = extract(article_page(PROSE, head=head), url, fetched_at=FETCHED)
        assert result.not_article is None and result.article.page_type == "article", url


# --- text: the floor, scripts, header and trailer, teasers ----------------------------------------


def test_navigation_read_as_text_falls_back_to_the_unpruned_page() -> None:
    menu = "\n".join(["Skip to main content", "Europe", "UK", "World", "Sport", "Business",
                      "Culture", "Travel", "Weather", "Video"])  # fmt: skip
    assert looks_like_navigation(menu)
    assert not looks_like_navigation("\n".join(SENTENCES))


def test_client_rendered_page_gives_the_article_from_its_script() -> None:
    state = json.dumps({"article": {"contentHtml": PROSE, "title": "Ferry timetable to change"}})
    page = article_page(f"<div id='root'></div><script>window.__STATE__ = {state};</script>")
    result = extract(page, "https://herald.example/news/ferry/", fetched_at=FETCHED)
    assert result.not_article is None and result.text_source == "embedded"
    assert "Sentence 7: the harbour board" in result.article.text
    tree = lxml_html.fromstring("<html><body><script>var x = 1;</script></body></html>")
    assert embedded_text(tree, None) == ""


def test_header_block_summary_box_and_trailer_are_not_text() -> None:
    lines = ["Transport", "Ferry timetable to change", "By Jane Roe",
             "Stand: 02.03.2026, 06:00 Uhr", "Darum gehts", "- Ferries run hourly",
             "- Fares stay the same", *SENTENCES, "(Quelle: APA/dpa)",
             "Sign up for our emails"]  # fmt: skip
    kept = strip_trailer(
        strip_summary(strip_header(lines, ["Ferry timetable to change"], ["Jane Roe"]))
    )
    assert kept == SENTENCES
    # a short closing sentence is text
    assert strip_trailer([*SENTENCES, "He died in 1990."])[-1] == "He died in 1990."


def test_teaser_lists_go_but_a_single_linked_line_stays() -> None:
    links = ["Council backs new bridge plan", "Read the board's full report",
             "Harbour fees rise in spring", "Fishing fleet returns early"]  # fmt: skip
    links.sort(key=len, reverse=True)
    lines = [SENTENCES[0], "Council backs new bridge plan", "Harbour fees rise in spring",
             "Fishing fleet returns early", SENTENCES[1], "Read the board's full report",
             SENTENCES[2], "- Harbour fees rise in spring"]  # fmt: skip
    assert drop_teasers(lines, links) == [
        SENTENCES[0],
        SENTENCES[1],
        "Read the board's full report",
        SENTENCES[2],
    ]


@pytest.mark.parametrize(
    "line",
    ["Ein Klick für den Datenschutz", "$$ARTICLEAD$$", "Quelle: AFP",
     "Follow the Herald on Google News for the latest stories.",
     "Folgst du schon dem Herald auf Whatsapp?", "Il vous reste 57% de cet article à lire.",
     "Log in or create an account to continue"],
)  # fmt: skip
def test_placeholder_promo_and_prompt_lines(line: str) -> None:
    assert is_boilerplate_line(line)


def test_closing_author_bio_goes() -> None:
    text = "\n".join([*SENTENCES, "Jane Roe covers transport and the harbour for the Herald."])
    assert clean_text(text, None, "Jane Roe") == "\n".join(SENTENCES)


def test_prose_in_a_widget_named_block_is_kept_end_to_end() -> None:
    page = article_page(f"<div class='article-widget article-widget-text'>{PROSE}</div>")
    result = extract(page, "https://herald.example/news/ferry/", fetched_at=FETCHED)
    assert all(s in result.article.text for s in SENTENCES)


# --- dates ---------------------------------------------------------------------------------------


def test_date_after_the_fetch_is_no_publication_date() -> None:
    head = '<meta property="article:published_time" content="2026-09-01T08:00:00+02:00">'
    result = extract(
        article_page(PROSE, head=head), "https://herald.example/news/ferry/", fetched_at=FETCHED
    )
    assert result.article.date is None or result.article.date[:10] <= FETCHED[:10]


def test_offset_is_kept_not_shifted_to_another_day() -> None:
    head = '<meta property="article:published_time" content="2026-03-01T23:30:00-05:00">'
    result = extract(
        article_page(PROSE, head=head), "https://herald.example/news/ferry/", fetched_at=FETCHED
    )
    assert result.article.date == "2026-03-01T23:30:00-05:00"


# --- the real path: `scrapy extract` fetching real bytes ----------------------------------------


def test_classes_through_scrapy_extract_over_http() -> None:
    state = json.dumps({"story": {"bodyHtml": PROSE}})
    links = "".join(f"<li><a href='/s/{i}/'>Story {i} of the harbour</a></li>" for i in range(40))
    future = '<meta property="article:published_time" content="2099-01-01T08:00:00Z">'
    pages = {
        "/rendered/": article_page(f"<div id='app'></div><script>self.__DATA__={state}</script>"),
        "/stories/": article_page(f"<ul>{links}</ul>"),
        "/future/": article_page(PROSE, head=future),
    }
    with HostileSite() as site:
        for path, text in pages.items():  # gzip-encoded, no Content-Length: ends at close
            site.pages[path] = Page(
                gzip.compress(text.encode()), headers={"Content-Encoding": "gzip"}, sized=False
            )
        urls = [site.base + path for path in pages]
        result = scrapy(
            "extract",
            *urls,
            "-s",
            ALLOW_LOOPBACK,
            "-s",
            "ROBOTSTXT_OBEY=False",
            "-s",
            "LOG_LEVEL=ERROR",
        )
    rendered, stories, future_record = (json.loads(line) for line in result.stdout.splitlines())
    assert rendered["not_article"] is None and rendered["page_type"] == "article"
    assert "Sentence 7: the harbour board" in rendered["text"]
    assert stories["not_article"]  # a bare list of links
    assert future_record["not_article"] is None and future_record["date"] is None  # after the fetch


def declared(body: str) -> str:
    obj = f'{{"@type": "NewsArticle", "articleBody": {body}}}'
    return f'<script type="application/ld+json">{obj}</script>'


def test_declared_body_completes_a_partly_rendered_article() -> None:
    first, rest = SENTENCES[:2], SENTENCES[2:]
    body = json.dumps("\n".join(["+++dropcap", *first, *rest]))
    head = declared(body)
    page = article_page("".join(f"<p>{s}</p>" for s in first), head=head)
    result = extract(page, "https://herald.example/news/ferry/", fetched_at=FETCHED, min_chars=100)
    assert result.text_source == "declared"
    assert result.article.text == "\n".join(SENTENCES)  # whole, in order, no markup token
    # a declared body that is another text (not containing the rendered one) is not taken
    other = json.dumps(
        " ".join(f"Unrelated words number {i} about the weather." for i in range(80))
    )
    head = declared(other)
    result = extract(
        article_page(PROSE, head=head), "https://herald.example/news/f/", fetched_at=FETCHED
    )
    assert result.text_source == "pruned"


@pytest.mark.parametrize(
    ("url", "article_like"),
    [
        ("https://herald.example/world/2026/11/20/ferry/", True),
        ("https://herald.example/news/ferry-strike-ends-after-nine-days", True),
        ("https://herald.example/a/552903.html", True),
        ("https://herald.example/world/", False),
        ("https://herald.example/business/markets/", False),
    ],
)
def test_article_urls(url: str, article_like: bool) -> None:
    assert looks_like_article_url(url) is article_like


def test_section_page_with_teasers_is_dropped_an_undeclared_article_with_teasers_is_kept() -> None:
    teasers = "".join(
        f"<article class='teaser'><h3><a href='/s/{i}/'>Other story {i}</a></h3></article>"
        for i in range(6)
    )
    page = article_page(PROSE + teasers)
    section = extract(page, "https://herald.example/world/", fetched_at=FETCHED)
    assert section.not_article == "listing_page"  # teaser blocks and a section's URL
    story = extract(
        page, "https://herald.example/world/ferry-timetable-to-change", fetched_at=FETCHED
    )
    assert story.not_article is None  # teaser blocks alone: stored, as doubtful
    assert (story.article.page_type, story.article.page_type_reason) == (
        "uncertain",
        "listing_page",
    )


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/news/live/ferry-strike/", "liveblog"),
        ("/news/ferry-strike-liveblog/", "liveblog"),
        ("/news/2026/03/02/ferry-strike-live-updates", "liveblog"),
        ("/news/how-to-live-longer-by-the-harbour/", "article"),
    ],
)
def test_live_blogs_by_their_address(path: str, kind: str) -> None:
    result = extract(article_page(PROSE), "https://herald.example" + path, fetched_at=FETCHED)
    assert result.not_article is None and result.article.page_type == kind
