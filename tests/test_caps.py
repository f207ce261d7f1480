"""Caps on what one page and one site may cost a run (#14 item 9): a page of 20,000 links is
followed only up to NEWS_MAX_LINKS_PER_PAGE (the rest counted, the page not stored as an
article); a site's pages stop at NEWS_MAX_PAGES_PER_DOMAIN. Real crawls through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extract import extraction
from tests.test_hostile import HostileSite, crawl, home, html, site  # noqa: F401 -- fixture


def link_list(count: int, teaser: str = "") -> str:
    """A page that is nothing but links, as a site's 'all articles' page can be; with a
    `teaser`, each link is followed by a sentence of blurb, as on a section's archive."""
    items = "".join(
        f"<li><a href='/list/story-{i}/'>Headline of story number {i}</a> {teaser}</li>"
        for i in range(count)
    )
    return f"<!DOCTYPE html><html><head><title>All stories</title></head><body><ul>{items}</ul>"


def test_a_page_of_20000_links_is_followed_up_to_the_cap(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    site.pages["/all/"] = html(link_list(20_000))
    site.pages["/"] = home("/all/")
    done = crawl(site, tmp_path, "-s", "NEWS_MAX_LINKS_PER_PAGE=40")
    assert 0 < site.count("/list/") <= 40
    assert done.stat("news/skipped/links_over_cap") == 20_000 - 40
    assert "links beyond NEWS_MAX_LINKS_PER_PAGE=40 not followed" in done.log
    assert done.log.count("links beyond NEWS_MAX_LINKS_PER_PAGE") == 1  # once for the page
    assert "/all/" not in done.stored()
    assert done.stored() == {"/news/good-story/"}


def test_pages_per_site_stop_at_the_cap(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    site.pages["/"] = home(*(f"/list/story-{i}/" for i in range(30)))
    done = crawl(site, tmp_path, "-s", "NEWS_MAX_PAGES_PER_DOMAIN=5")
    assert site.count("/list/") + site.count("/news/") == 5
    assert done.stat("news/requests_from/link") == 5
    assert done.stat("news/skipped/domain_limit") == 31 - 5  # good story + 30, the cap's 5 in
    assert "NEWS_MAX_PAGES_PER_DOMAIN=5 pages requested" in done.log


def test_caps_lifted_with_zero(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    site.pages["/"] = home(*(f"/list/story-{i}/" for i in range(30)))
    crawl(site, tmp_path, "-s", "NEWS_MAX_PAGES_PER_DOMAIN=0", "-s", "NEWS_MAX_LINKS_PER_PAGE=0")
    assert site.count("/list/") == 30


def test_a_teaser_list_is_not_stored_as_an_article(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    """Blurbs keep the link share of the text low; the quoted headlines still give it away."""
    blurb = "The council met on Tuesday evening and agreed the harbour budget for next year."
    site.pages["/archive/all-stories-of-the-year/"] = html(link_list(2_000, blurb))
    site.pages["/"] = home("/archive/all-stories-of-the-year/")
    done = crawl(site, tmp_path, "-s", "NEWS_MAX_LINKS_PER_PAGE=10")
    assert site.count("/archive/all-stories-of-the-year/") == 1
    assert "/archive/all-stories-of-the-year/" not in done.stored()
    assert done.stored() == {"/news/good-story/"}


def test_a_huge_link_list_is_decided_before_any_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura's fallbacks took ~27 s CPU on the 20,000-link page: such a page is a link
    list before trafilatura runs; a long real article with many links is not."""

    def no_trafilatura(*args: object, **kwargs: object) -> str:
        raise AssertionError("trafilatura ran on a huge link list")

    monkeypatch.setattr(extraction, "trafilatura_text", no_trafilatura)
    result = extraction.extract(link_list(3_000), "http://127.0.0.1:1/all/")
    assert result.article is None and result.not_article == "link_list"
    prose = "<p>" + " ".join(["The harbour board met on Tuesday evening."] * 2000) + "</p>"
    assert not extraction.is_huge_link_list(extraction.parse_html(link_list(3_000) + prose))
