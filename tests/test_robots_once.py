"""robots.txt is fetched once per site and run (#21): Scrapy's RobotsTxtMiddleware fetches it
to honour its rules, and the spider reads that same response for its `Sitemap:` lines and
Crawl-delay instead of fetching it again. So the site sees one request and the WARC holds one
record of it, while the sitemaps it lists are still crawled and its Disallow rules obeyed.

Every crawl is the real `scrapy crawl news` CLI against a site on 127.0.0.1 (tests/test_hostile).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.test_bad_discovered_urls import story, urlset
from tests.test_hostile import Crawl, HostileSite, Page, crawl, home, redirect


@pytest.fixture
def site() -> Iterator[HostileSite]:
    with HostileSite() as served:
        served.pages["/"] = home("/private/linked/")
        served.pages["/robots.txt"] = robots(served)
        served.pages["/sitemap.xml"] = urlset(
            story(served, "/news/sitemap-one/"),
            story(served, "/news/sitemap-two/"),
            story(served, "/private/in-sitemap/"),
        )
        story(served, "/news/good-story/")
        story(served, "/private/linked/")
        yield served


def robots(site: HostileSite) -> Page:
    return Page(
        f"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.01\n"
        f"Sitemap: {site.base}/sitemap.xml\n".encode(),
        "text/plain",
    )


def robots_records(done: Crawl) -> list[str]:
    """Target URIs of the WARC's response and revisit records of a robots.txt."""
    found = []
    for warc in sorted((done.run_dir / "warc").glob("*.warc.gz")):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type in ("response", "revisit") and uri.endswith("/robots.txt"):
                    found.append(uri)
    return found


def test_robots_txt_is_fetched_once_and_still_obeyed(site: HostileSite, tmp_path: Path) -> None:
    done = crawl(site, tmp_path)

    assert site.count("/robots.txt") == 1, site.requests
    assert robots_records(done) == [f"{site.base}/robots.txt"]
    # the sitemap it lists is crawled, its Disallow rules are honoured, its Crawl-delay read
    assert site.count("/sitemap.xml") == 1
    assert done.stored() == {"/news/good-story/", "/news/sitemap-one/", "/news/sitemap-two/"}
    assert not site.count("/private/"), site.requests
    assert done.stat("robotstxt/forbidden") == 2  # the sitemap's entry and the home's link
    assert "'news/crawl_delay/127.0.0.1': 0.01" in done.log


def test_a_redirected_robots_txt_is_read_once(site: HostileSite, tmp_path: Path) -> None:
    site.pages["/robots-real.txt"] = site.pages.pop("/robots.txt")
    site.pages["/robots.txt"] = redirect("/robots-real.txt", 301)

    done = crawl(site, tmp_path)

    assert site.count("/robots.txt") == 1 and site.count("/robots-real.txt") == 1
    assert done.stored() == {"/news/good-story/", "/news/sitemap-one/", "/news/sitemap-two/"}
    assert not site.count("/private/"), site.requests


def test_without_robots_middleware_the_spider_reads_it_once(
    site: HostileSite, tmp_path: Path
) -> None:
    """ROBOTSTXT_OBEY=False: no middleware fetches robots.txt, so the spider does, for its
    Sitemap: lines (its rules are then, as asked, not obeyed)."""
    done = crawl(site, tmp_path, "-s", "ROBOTSTXT_OBEY=False")

    assert site.count("/robots.txt") == 1
    assert robots_records(done) == [f"{site.base}/robots.txt"]
    assert {"/news/sitemap-one/", "/news/sitemap-two/", "/private/in-sitemap/"} <= done.stored()
