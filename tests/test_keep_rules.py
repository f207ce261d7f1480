"""Must-keep classes (issue #22): text our line and page-type rules used to drop while plain
trafilatura kept it, one small hand-written case per class."""

from __future__ import annotations

from crawler.extract.edges import strip_header, strip_summary, strip_trailer
from crawler.extract.extraction import extract
from crawler.extract.pagetype import looks_like_article_url

FETCHED = "2026-03-02T12:00:00Z"
SENTENCES = [
    f"Sentence {i}: the harbour board met on Tuesday to weigh the ferry timetable, and the "
    "councillors agreed to publish every figure before the spring meeting of the town."
    for i in range(6)
]


# --- trailer ------------------------------------------------------------------------------------


def test_a_closing_lead_in_to_a_link_is_text() -> None:
    # "Find the paper here:" introduces the (linked) document that follows: a sentence
    kept = strip_trailer([*SENTENCES, "The board's full report is here:"])
    assert kept[-1] == "The board's full report is here:"
    assert strip_trailer([*SENTENCES, "Read also:"]) == SENTENCES  # a bare label still goes


def test_a_list_that_ends_the_text_keeps_its_last_items() -> None:
    summary = [
        "- Ferries will run every hour from the first of May until the end of the season",
        "- Fares stay the same for residents",
        "- Bikes ride free",
    ]
    assert strip_trailer([*SENTENCES, "In short:", *summary]) == [
        *SENTENCES,
        "In short:",
        *summary,
    ]
    # a credit after the list still goes
    assert strip_trailer([*SENTENCES, *summary, "(dpa)"]) == [*SENTENCES, *summary]


def test_a_text_of_short_lines_keeps_its_last_lines() -> None:
    # the run of short lines stops at "... (Leith)", and the two lines above it are short too
    cv = [*SENTENCES[:2], "Harbour choir (Kingston)", "2019", "Ferry songs on tour (Leith)",
          "2021", "Radio play for the Herald"]  # fmt: skip
    assert strip_trailer(cv) == cv
    # after paragraphs, a short closing run is still a trailer
    assert strip_trailer([*SENTENCES, "Jane Roe", "Photos: Herald"]) == SENTENCES


def test_a_closing_quoted_line_is_text() -> None:
    # a dialogue's last reply is as short as a credit, but quoted: someone's words
    dialogue = [*SENTENCES[:1], "– „Dann sag es nicht“", "– „Ok.“"]
    assert strip_trailer(dialogue) == dialogue
    assert strip_trailer([*SENTENCES, "“Yes.”"]) == [*SENTENCES, "“Yes.”"]
    assert strip_trailer([*SENTENCES, "Jane Roe"]) == SENTENCES  # a bare name still goes


# --- header -------------------------------------------------------------------------------------


def test_a_list_item_that_echoes_the_headline_is_text() -> None:
    headline = "Minutes of the board meeting of 10 October"
    lines = [
        "Place: harbour office",
        "- Minutes of the last board meeting of 5 August",
        "accepted",
        *SENTENCES,
    ]
    assert strip_header(lines, [headline], []) == lines
    # a headline that opens with a dash (a quote) is still found as one
    quote = "- The fear will grow"
    assert strip_header([quote, *SENTENCES], [quote], []) == SENTENCES


def test_a_lead_sentence_that_retells_the_headline_is_text() -> None:
    headline = "These spa hotels promise a dreamlike short break"
    lead = "**These spa hotels are just right for a short break, and for plenty of rest.**"
    assert strip_header([lead, *SENTENCES], [headline], []) == [lead, *SENTENCES]
    # the headline itself, and a kicker glued to it, still go
    assert strip_header([headline, *SENTENCES], [headline], []) == SENTENCES
    assert strip_header([f"Travel {headline}", *SENTENCES], [headline], []) == SENTENCES


# --- summary box --------------------------------------------------------------------------------


def test_release_notes_made_of_labelled_lists_are_not_a_summary_box() -> None:
    notes = [
        "Improvements",
        "- Spawn announcements are now orange.",
        "- Account bans were extended.",
        "Bug fixes",
        "- Fixed: the quest giver did not always appear.",
        "- Fixed: the promo screen showed on every zone change.",
        *SENTENCES,
    ]
    assert strip_summary(notes) == notes
    box = ["What matters", "- Ferries run hourly", "- Fares stay the same", *SENTENCES]
    assert strip_summary(box) == SENTENCES


# --- page type ----------------------------------------------------------------------------------


def test_a_story_named_by_an_id_in_its_query_is_an_article_url() -> None:
    assert looks_like_article_url("https://radio.example/service/news_view.htm?lang=e&Seq=181595")
    assert not looks_like_article_url("https://radio.example/service/news_list.htm?page=2")
    teasers = "".join(
        f"<div class='teaser'><a href='/s/{i}/'>Other story number {i} today</a></div>"
        for i in range(6)
    )
    page = (
        "<html lang='en'><head><title>Cold wave</title></head><body>"
        f"<h1>Cold wave</h1>{''.join(f'<p>{s}</p>' for s in SENTENCES)}"
        f"<aside>{teasers}</aside></body></html>"
    )
    story = extract(
        page, "https://radio.example/service/news_view.htm?lang=e&Seq=181595", fetched_at=FETCHED
    )
    assert story.not_article is None  # teaser blocks alone: stored, as doubtful at most
    listing = extract(page, "https://radio.example/service/news.htm", fetched_at=FETCHED)
    assert listing.not_article == "listing_page"  # teasers and a section's address: dropped


def test_prose_on_a_sections_address_is_stored_as_doubtful() -> None:
    """A long text that hardly quotes a link is an article's, even at a two-word address with
    teaser blocks around it (German compounds make short slugs): stored, marked doubtful. The
    same address with a text of headlines is still a listing."""
    teasers = "".join(
        f"<div class='teaser'><a href='/s/{i}/'>Other story number {i} today</a></div>"
        for i in range(6)
    )
    more = [s.replace("Sentence", "Line") for s in SENTENCES]
    prose = "".join(f"<p>{s}</p>" for s in SENTENCES + more)  # ~1,900 characters
    page = (
        "<html lang='en'><head><title>Cold wave</title></head><body>"
        f"<h1>Cold wave</h1>{prose}<aside>{teasers}</aside></body></html>"
    )
    story = extract(page, "https://relief.example/menschenrechte-achten", fetched_at=FETCHED)
    assert story.not_article is None and story.article is not None
    kind = (story.article.page_type, story.article.page_type_reason)
    assert kind == ("uncertain", "listing_page")
    assert SENTENCES[3] in story.article.text
    headlines = "".join(
        f"<div class='card'><a href='/s/{i}/'>Ferry story number {i} of this week</a>"
        f"<p>{SENTENCES[i % 6][:90]}</p></div>"
        for i in range(12)
    )
    listing = (
        "<html lang='en'><head><title>Ferries</title></head><body>"
        f"<h1>Ferries</h1>{headlines}</body></html>"
    )
    dropped = extract(listing, "https://relief.example/ferry-news", fetched_at=FETCHED)
    assert dropped.not_article in ("listing_page", "link_list")


def test_a_short_post_that_declares_itself_an_article_is_stored() -> None:
    """A blog's three lines of dialogue (~100 characters) are the post's whole text: stored,
    marked doubtful, when the page declares an article; the same text on an undeclared page,
    and a declared page with a mere line, are stubs and dropped."""
    lines = "<p>„Ich weiß, ich sollte das vielleicht nicht sagen…“</p><p>– „Dann sag es nicht“</p>"

    def page(og_type: str, body: str) -> str:
        return (
            "<html lang='de'><head><title>Die Möglichkeit</title>"
            f"<meta property='og:type' content='{og_type}'></head><body><article>"
            f"<h1>Die Möglichkeit</h1>{body}</article></body></html>"
        )

    url = "https://blog.example/2013/06/14/die-moeglichkeit/"
    post = extract(page("article", lines + "<p>– „Ok.“</p>"), url, fetched_at=FETCHED)
    assert post.not_article is None and post.article is not None
    assert (post.article.page_type, post.article.page_type_reason) == ("uncertain", "too_short")
    assert post.article.text.endswith("– „Ok.“")
    undeclared = extract(page("website", lines + "<p>– „Ok.“</p>"), url, fetched_at=FETCHED)
    assert undeclared.not_article == "too_short"
    stub = extract(page("article", "<p>Seite nicht gefunden.</p>"), url, fetched_at=FETCHED)
    assert stub.not_article == "too_short"


# --- chrome pruning -------------------------------------------------------------------------------


def test_a_column_named_for_its_sidebar_is_not_chrome() -> None:
    """"post-wrap has-sidebar-right" names the post's column beside a sidebar: it holds the
    <article>, so it stays; the sidebar itself, teaser <article>s and all, still goes."""
    menu = "".join(f"<li><a href='/m/{i}'>Menu entry number {i}</a></li>" for i in range(60))
    recent = "".join(
        f"<article class='mini'><a href='/r/{i}/'>Recent post {i} in the sidebar</a></article>"
        for i in range(5)
    )
    page = (
        "<html lang='de'><head><title>Gespräch</title></head><body>"
        f"<nav><ul>{menu}</ul></nav><div class='post-wrap has-sidebar-right'><article>"
        f"<h1>Gespräch über die Fähre</h1>{''.join(f'<p>{s}</p>' for s in SENTENCES)}"
        f"</article><div class='sidebar'>{recent}</div></div>"
        f"<footer><p>{'Impressum und Kontakt der Redaktion. ' * 60}</p></footer></body></html>"
    )
    story = extract(page, "https://radio.example/gespraech-ueber-die-faehre/", fetched_at=FETCHED)
    assert story.article is not None and story.not_article is None
    assert story.text_source == "pruned"  # not rescued by the unpruned page: it was never cut
    assert SENTENCES[0] in story.article.text and SENTENCES[5] in story.article.text
    assert "Recent post" not in story.article.text


# --- standfirst ---------------------------------------------------------------------------------

LEAD = (
    "The harbour board has voted to publish every ferry figure before spring, after a year of "
    "complaints about late and cancelled crossings."
)


def _standfirst_page(after_headline: str, after_body: str = "") -> str:
    paragraphs = "".join(f"<p>{s}</p>" for s in SENTENCES)
    return (
        "<html lang='en'><head><title>Ferry figures</title></head><body>"
        "<article><header><h1>Harbour board will publish the ferry figures</h1>"
        f"{after_headline}<p class='byline'>By Jane Roe</p></header>"
        f"<div class='article-body'>{paragraphs}</div></article>{after_body}</body></html>"
    )


def test_the_lead_paragraph_named_as_such_opens_the_text() -> None:
    """trafilatura drops a "teaser"-named lead and starts at the body's container; the
    standfirst between the headline and the body is put back in front of the text."""
    url = "https://herald.example/news/harbour-board-will-publish-the-ferry-figures/"
    for name in ("article-teaser", "c-article__standfirst", "story-lead-text", "excerpt"):
        page = _standfirst_page(f"<p class='{name}'>{LEAD}</p>")
        story = extract(page, url, fetched_at=FETCHED)
        assert story.article is not None, name
        assert story.article.text.splitlines()[0] == LEAD, name
        assert story.article.text.count("harbour board has voted") == 1, name


def test_blocks_that_only_look_like_a_lead_stay_out() -> None:
    url = "https://herald.example/news/harbour-board-will-publish-the-ferry-figures/"
    teasers = "".join(
        f"<div class='teaser'><p>Other story {i}: the council met again on Tuesday to weigh "
        f"the new timetable for the island ferries and the bus links.</p></div>"
        for i in range(3)
    )
    cases = {
        "a teaser list repeats its class": _standfirst_page(teasers),
        "after the body (a comment form's intro)": _standfirst_page(
            "", f"<div class='intro'><p>{LEAD}</p></div>"
        ),
        "a photo's description": _standfirst_page(f"<div class='media-teaser'>{LEAD}</div>"),
        "a header block that repeats the headline": _standfirst_page(
            "<div class='article-intro'><span>21.01.2022 Aktuelle Meldung</span>"
            "<h2>Harbour board will publish the ferry figures</h2></div>"
        ),
    }
    for case, page in cases.items():
        story = extract(page, url, fetched_at=FETCHED)
        assert story.article is not None, case
        assert story.article.text.splitlines()[0] == SENTENCES[0], case
