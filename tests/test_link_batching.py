"""A page's links as the extraction worker hands them back (#15): canonical, in scope, each
once, capped; none for a page at DEPTH_LIMIT; and one seen-store query for all of them
(SQLite and Redis answer alike)."""

from __future__ import annotations

from pathlib import Path

from scrapy.settings import Settings

from crawler.discovery import documents as discovery
from crawler.discovery import links
from crawler.extract.extraction import parse_html
from crawler.frontier.seen import BATCH_SIZE, Seen, SeenStore
from crawler.frontier.seen_redis import RedisSeenStore
from tests.test_distributed import RedisServer, redis_server  # noqa: F401 -- the fixture
from tests.test_hostile import HostileSite, article, crawl, home, html, site  # noqa: F401

LINKS = """<html><head><base href="https://News.example.org/world/"></head><body>
<a href="story-one?utm_source=feed&b=2&a=1">one, tracked</a>
<a href="story-one?a=1&b=2#comments">one again, canonically</a>
<a href="https://news.example.org/world/story-one?a=1&b=2">one, absolute</a>
<a href="/story-two">two</a>
<a href="https://elsewhere.example.com/story">off site</a>
<a href="/story-three" rel="nofollow">not followed</a>
<a href="/story-four">four</a>
<a href="/story-five">five</a>
</body></html>"""


def test_links_come_canonical_once_and_capped() -> None:
    tree = parse_html(LINKS)
    assert not isinstance(tree, str)
    base = links.base_url(tree, "https://news.example.org/a/page")
    found, over = links.followable_links(tree, base, "utf-8", ["news.example.org"])
    one = "https://news.example.org/world/story-one?a=1&b=2"
    assert found == [
        one,
        "https://news.example.org/story-two",
        "https://news.example.org/story-four",
        "https://news.example.org/story-five",
    ]
    assert found == list(dict.fromkeys(discovery.canonical(url) for url in found))
    assert over == 0
    capped, over = links.followable_links(tree, base, "utf-8", ["news.example.org"], cap=2)
    # the cap counts canonical links: the three spellings of story one are one link
    assert capped == found[:2] and over == 2


def stored_and_asked(store: Seen) -> None:
    stored = [f"https://news.example.org/story-{i}" for i in range(0, 2 * BATCH_SIZE + 10, 7)]
    for url in stored:
        store.mark_article(url, "run-1", text_digest="d")
    asked = [f"https://news.example.org/story-{i}" for i in range(2 * BATCH_SIZE + 10)]
    assert store.seen_articles(asked) == set(stored)
    assert store.seen_articles([]) == set()
    assert store.seen_articles(["https://news.example.org/never"]) == set()


def test_sqlite_seen_store_answers_a_batch(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "seen.sqlite")
    stored_and_asked(store)
    store.close()


def test_redis_seen_store_answers_a_batch(redis_server: RedisServer) -> None:  # noqa: F811
    settings = Settings({"REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": "test-batch"})
    store = RedisSeenStore.from_settings(settings, "news")
    stored_and_asked(store)
    store.close()


def test_no_links_are_read_at_the_depth_limit(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    """Home (depth 0) -> stories (depth 1, the limit): the stories' own links would be dropped
    by Scrapy's DepthMiddleware, so none is asked of the worker or made a request; and the
    home page's repeated links are one request each."""
    site.pages["/"] = home("/news/a/", "/news/b/", "/news/a/?utm_source=home", "/news/b/#top")
    for name in "ab":
        more = "".join(f"<a href='/deeper/{name}{i}/'>more</a>" for i in range(20))
        site.pages[f"/news/{name}/"] = html(article(f"Story {name.upper()} of the week", more))
    done = crawl(site, tmp_path, "-s", "DEPTH_LIMIT=1")
    assert done.stored() == {"/news/good-story/", "/news/a/", "/news/b/"}
    assert done.stat("news/requests_from/link") == 3  # good story, a and b, once each
    assert site.count("/deeper/") == 0
    assert done.stat("dupefilter/filtered") == 0


def test_cached_link_verdicts_are_per_site_and_encoding() -> None:
    """A joined URL's verdict is cached with the sites and the encoding it was judged for: the
    same page read for another site, or in another encoding, is judged anew."""
    page = "<html><body><a href='/story-one'>one</a><a href='?q=caf\u00e9'>two</a></body></html>"
    tree = parse_html(page)
    assert not isinstance(tree, str)
    base = "https://news.example.org/a/page"
    ours = links.html_links(tree, base, "utf-8", ["news.example.org"])
    assert ours == ["https://news.example.org/story-one", "https://news.example.org/a/page?q=caf%C3%A9"]
    assert links.html_links(tree, base, "utf-8", ["other.example.org"]) == []
    latin = links.html_links(tree, base, "latin-1", ["news.example.org"])
    assert latin[1] == "https://news.example.org/a/page?q=caf%E9"
    assert links.html_links(tree, base, "utf-8", ["news.example.org"]) == ours  # cached, same
