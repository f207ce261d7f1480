"""Discovery and scheduled incremental runs (#6), against local sites built per test with
dates relative to today: a feed with old and new entries, a sitemap index with a gzipped
child, a Google News sitemap, a home page advertising its feed, robots.txt Sitemap: lines,
and a site without any feed."""

from __future__ import annotations

import fcntl
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from courlan import is_not_crawlable
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

from crawler.demo.server import DemoServer
from crawler.discovery import documents as discovery
from crawler.discovery import links
from crawler.discovery.documents import DateWindow, canonical
from crawler.extract.extraction import parse_html
from tests.conftest import FAST, PROJECT_ROOT, scrapy, text_records

NOW = datetime.now(UTC)
PARAGRAPH = (
    "The harbour board met on {day} to discuss the {topic}, a question that has divided the "
    "town's councillors, fishing families and shop owners for most of the past decade, and "
    "agreed to publish its full figures before the next public meeting in the spring."
)


def article(slug: str, title: str, published: datetime) -> str:
    day = f"{published:%A}"
    paragraphs = "".join(
        "<p>" + PARAGRAPH.format(day=day, topic=f"{title.lower()} ({i})") + "</p>"
        for i in range(6)
    )
    ld = json.dumps({"@type": "NewsArticle", "headline": title,
                     "datePublished": published.isoformat()})  # fmt: skip
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{title} - Harbour Post</title>"
        f"<meta property='og:type' content='article'>"
        f"<script type='application/ld+json'>{ld}</script></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer><a href='/about/'>About</a></footer></body></html>"
    )


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def write(root: Path, path: str, text: str | bytes) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode() if isinstance(text, str) else text)


def urlset(entries: list[tuple[str, str]]) -> str:
    rows = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc>{extra}</url>" for p, extra in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
        'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{rows}</urlset>"
    )


def news_entry(published: datetime, lastmod: datetime | None = None) -> str:
    extra = f"<lastmod>{lastmod.date()}</lastmod>" if lastmod else ""
    return (
        f"{extra}<news:news><news:publication>"
        "<news:name>Harbour Post</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{published.isoformat()}"
        "</news:publication_date><news:title>x</news:title></news:news>"
    )


# path -> (publication date, reachable in the first run's window?)
FEEDS_SITE = {
    "/news/feed-new-1/": (ago(days=2), True),
    "/news/feed-new-2/": (ago(days=5), True),
    "/news/feed-old/": (ago(days=60), False),
    "/news/sm-new/": (ago(days=3), True),
    "/news/sm-old/": (ago(days=90), False),
    "/news/sm-b-new/": (ago(days=1), True),
    "/news/sm-b-undated/": (ago(days=400), True),  # undated in its sitemap: fetched
    "/news/news-new/": (ago(hours=1), True),
    "/news/news-old/": (ago(days=40), False),  # recent lastmod, old publication_date
}
NEWEST = "/news/news-newest/"


def build_feeds_site(root: Path) -> None:
    for path, (published, _) in {**FEEDS_SITE, NEWEST: (ago(minutes=10), True)}.items():
        write(root, path + "index.html", article(path, path.split("/")[2].replace("-", " "),
                                                 published))  # fmt: skip
    write(root, "robots.txt", "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.05\n"
          "Sitemap: {{BASE}}/sitemap_index.xml\nSitemap: {{BASE}}/news-sitemap.xml\n")
    write(root, "index.html", "<!DOCTYPE html><html lang='en'><head><title>Harbour Post</title>"
          "<link rel='alternate' type='application/rss+xml' href='/feed.xml'></head>"
          "<body><h1>Harbour Post</h1><p>Read us in your feed reader.</p></body></html>")
    items = "".join(
        f"<item><title>{p}</title><link>{{{{BASE}}}}{p}</link><guid>{p}</guid>"
        f"<pubDate>{format_datetime(FEEDS_SITE[p][0])}</pubDate></item>"
        for p in ("/news/feed-new-1/", "/news/feed-new-2/", "/news/feed-old/")
    )
    write(root, "feed.xml", '<?xml version="1.0"?><rss version="2.0"><channel>'
          f"<title>Harbour Post</title><link>{{{{BASE}}}}/</link>{items}</channel></rss>")
    write(root, "sitemap_index.xml",
          '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
          "<sitemap><loc>{{BASE}}/sitemap-a.xml.gz</loc></sitemap>"
          "<sitemap><loc>{{BASE}}/sitemap-b.xml</loc></sitemap></sitemapindex>")
    base_free = urlset([("/news/sm-new/", f"<lastmod>{ago(days=3).date()}</lastmod>"),
                        ("/news/sm-old/", f"<lastmod>{ago(days=90).date()}</lastmod>")])
    # the server substitutes {{BASE}} only in .xml files: the gzipped child carries a marker
    # that the fixture replaces with the real base before compressing
    write(root, "sitemap-a.xml.tmpl", base_free)
    write(root, "sitemap-b.xml", urlset([
        ("/news/sm-b-new/", f"<lastmod>{ago(days=1).date()}</lastmod>"),
        ("/news/sm-b-undated/", ""),
    ]))  # fmt: skip
    news_sitemap(root, with_newest=False)


def news_sitemap(root: Path, with_newest: bool) -> None:
    entries = [("/news/news-new/", news_entry(ago(hours=1))),
               ("/news/news-old/", news_entry(ago(days=40), lastmod=ago(days=1)))]
    if with_newest:
        entries.append((NEWEST, news_entry(ago(minutes=10))))
    write(root, "news-sitemap.xml", urlset(entries))


def gzip_child(root: Path, base: str) -> None:
    text = (root / "sitemap-a.xml.tmpl").read_text().replace("{{BASE}}", base)
    write(root, "sitemap-a.xml.gz", gzip.compress(text.encode(), mtime=0))


def build_linked_site(root: Path) -> None:
    """No feed, no sitemap: articles only through links."""
    write(root, "robots.txt", "User-agent: *\nDisallow:\n")
    write(root, "index.html", "<!DOCTYPE html><html><head><title>Valley Times</title></head><body>"
          "<a href='/local/'>Local news</a> <a href='/about/'>About us</a></body></html>")
    links = "".join(f"<li><a href='/local/story-{i}/'>Story {i}</a></li>" for i in (1, 2, 3))
    write(root, "local/index.html", "<!DOCTYPE html><html><head><title>Local</title></head>"
          f"<body><ul>{links}</ul></body></html>")
    write(root, "about/index.html", "<html><body><p>About the Valley Times.</p></body></html>")
    for i in (1, 2, 3):
        write(root, f"local/story-{i}/index.html",
              article(f"story-{i}", f"Valley story {i}", ago(days=i)))


@dataclass
class Sites:
    feeds: DemoServer
    linked: DemoServer
    feeds_root: Path
    archive: Path

    @property
    def linked_base(self) -> str:  # another host name for the same loopback address
        return self.linked.base_url.replace("127.0.0.1", "localhost")

    def crawl(self, run_id: str, *extra: str) -> str:
        result = scrapy(
            "crawl", "news", "-a", f"urls={self.feeds.base_url}/,{self.linked_base}/",
            "-s", f"ARCHIVE_URI={self.archive}", "-s", f"ARCHIVE_RUN_ID={run_id}", *FAST, *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stderr

    def stored(self, run_id: str) -> set[str]:
        return {r["url"] for r in text_records(self.archive / "news" / run_id)}


@pytest.fixture
def sites(tmp_path: Path) -> Sites:
    feeds_root, linked_root = tmp_path / "feeds", tmp_path / "linked"
    build_feeds_site(feeds_root)
    build_linked_site(linked_root)
    with DemoServer(root=feeds_root) as feeds, DemoServer(root=linked_root) as linked:
        gzip_child(feeds_root, feeds.base_url)
        yield Sites(feeds, linked, feeds_root, tmp_path / "archive")


def article_requests(server: DemoServer) -> list[tuple[str, int]]:
    return [(p, s) for m, p, s in server.requests if p.startswith(("/news/", "/local/story"))]


def test_first_run_fetches_exactly_the_wanted_articles(sites: Sites) -> None:
    log = sites.crawl("run-1")
    wanted = {p for p, (_, fresh) in FEEDS_SITE.items() if fresh}
    fetched = [p for p, _ in article_requests(sites.feeds)]
    assert sorted(fetched) == sorted(wanted)  # each once; old entries never requested
    linked = sorted(p for p, _ in article_requests(sites.linked))
    assert linked == [f"/local/story-{i}/" for i in (1, 2, 3)]
    expected = {sites.feeds.base_url + p for p in wanted}
    expected |= {f"{sites.linked_base}/local/story-{i}/" for i in (1, 2, 3)}
    assert sites.stored("run-1") == expected
    paths = {p for _, p, _ in sites.feeds.requests}
    assert {"/feed.xml", "/sitemap_index.xml", "/sitemap-a.xml.gz", "/sitemap-b.xml",
            "/news-sitemap.xml"} <= paths  # fmt: skip
    assert "'news/skipped/out_of_window/feed': 1" in log
    assert "'news/skipped/out_of_window/sitemap': 2" in log
    assert "'news/crawl_delay/127.0.0.1': 0.05" in log
    print(f"first run: {len(sites.feeds.requests)} + {len(sites.linked.requests)} requests")


def test_second_run_fetches_only_the_new_article(sites: Sites) -> None:
    sites.crawl("run-1")
    first = len(sites.feeds.requests) + len(sites.linked.requests)
    sites.feeds.requests.clear()
    sites.linked.requests.clear()
    news_sitemap(sites.feeds_root, with_newest=True)
    log = sites.crawl("run-2")
    assert article_requests(sites.feeds) == [(NEWEST, 200)]
    assert article_requests(sites.linked) == []  # stories stored before: not fetched again
    statuses = {p: s for _, p, s in sites.feeds.requests}
    assert statuses["/feed.xml"] == 304 and statuses["/sitemap-b.xml"] == 304
    assert statuses["/news-sitemap.xml"] == 200  # it changed
    assert sites.stored("run-2") == {sites.feeds.base_url + NEWEST}
    assert "'news/not_modified':" in log and "'news/skipped/seen':" in log
    second = len(sites.feeds.requests) + len(sites.linked.requests)
    print(f"requests: first run {first}, second run {second}")


def test_refetch_all_and_since_window(sites: Sites) -> None:
    sites.crawl("run-1")
    sites.feeds.requests.clear()
    since = ago(days=45).date().isoformat()
    sites.crawl("run-2", "-a", "refetch=all", "-a", f"since={since}")
    fetched = {p for p, _ in article_requests(sites.feeds)}
    wanted = {p for p, (when, fresh) in FEEDS_SITE.items() if fresh or when > ago(days=45)}
    assert fetched == wanted  # feed-old (60 d) and sm-old (90 d) stay out; news-old (40 d) in


def test_the_lock_stops_an_overlapping_run(sites: Sites) -> None:
    lock = sites.archive / ".state" / "news.lock"
    lock.parent.mkdir(parents=True)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = scrapy("crawl", "news", "-a", f"urls={sites.feeds.base_url}/",
                        "-s", f"ARCHIVE_URI={sites.archive}")  # fmt: skip
    assert result.returncode == 1
    assert "news is already running on this archive" in result.stderr
    assert not sites.feeds.requests  # nothing fetched
    sites.crawl("after")  # and once the lock is free, the next run goes ahead


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://News.example.org/a/?utm_source=x&id=3&fbclid=abc#top",
         "https://news.example.org/a/?id=3"),
        ("https://news.example.org/story?b=2&a=1&gclid=9", "https://news.example.org/story?a=1&b=2"),
        ("https://news.example.org/story#comments", "https://news.example.org/story"),
    ],
)  # fmt: skip
def test_canonical_urls(url: str, expected: str) -> None:
    assert canonical(url) == expected


def test_date_window() -> None:
    window = DateWindow.build("2026-11-01", "2026-11-10", max_age_days=30)
    assert window.allows(datetime(2026, 11, 10, 23, 0, tzinfo=UTC))  # until includes the day
    assert not window.allows(datetime(2026, 11, 11, 0, 1, tzinfo=UTC))
    assert not window.allows(datetime(2026, 10, 31, tzinfo=UTC))
    assert window.allows(None)  # undated entries are fetched
    default = DateWindow.build(None, None, max_age_days=30)
    assert not default.allows(ago(days=31)) and default.allows(ago(days=29))


# --- links and feeds read off the extraction worker's parsed tree ---------------------------

LINK_PAGE = """<!DOCTYPE html><html><head>
<base href="https://news.example.org/world/">
<link rel="alternate" type="application/rss+xml" href=" /feed.xml ">
<link rel="alternate stylesheet" type="text/css" href="/theme.css">
</head><body>
<a href="story-one">relative to the base</a>
<a href="  https://news.example.org/story-two  ">whitespace around</a>
<a href="story-one#comments">same page, other fragment</a>
<a href="https://news.example.org/story-two">duplicate</a>
<a href="https://cdn.news.example.org/story-three">subdomain</a>
<a href="https://other.example/story">off-site</a>
<a rel="nofollow sponsored" href="/sponsored">nofollow</a>
<a href="/files/report.PDF">a document</a>
<a href="/login?next=/world/">login</a>
<a href="mailto:desk@news.example.org">mail</a>
<a href="javascript:void(0)">script</a>
<a href="http://[::1">bogus</a>
<area href="/map-story" alt="an image map">
<a href="/caf\u00e9 story">non-ASCII and a space</a>
<a>no href</a>
</body></html>"""


def test_links_follow_scrapys_link_extractor_rules() -> None:
    tree = parse_html(LINK_PAGE)
    assert not isinstance(tree, str)
    base = links.base_url(tree, "https://news.example.org/a/page")
    assert base == "https://news.example.org/world/"
    found = links.html_links(tree, base, "utf-8", ["news.example.org"])
    assert found == [
        "https://news.example.org/world/story-one",
        "https://news.example.org/story-two",
        "https://news.example.org/world/story-one#comments",
        "https://cdn.news.example.org/story-three",
        "https://news.example.org/map-story",
        "https://news.example.org/caf%C3%A9%20story",
    ]
    assert discovery.advertised_feeds(tree, base) == [
        "https://news.example.org/feed.xml"
    ]


def test_links_match_scrapys_link_extractor_on_the_demo_site() -> None:
    """Same links, same order as Scrapy's LinkExtractor (plus the project's filters) on every
    page of the demo site and the extraction fixtures."""


    reference = LinkExtractor(unique=True)
    pages = sorted((PROJECT_ROOT / "crawler" / "demo" / "site").rglob("*.html"))
    pages += sorted((PROJECT_ROOT / "tests" / "fixtures" / "extraction").rglob("*.html"))
    compared = 0
    for path in pages:
        url, domains = "https://news.example.org/section/page/", ["news.example.org"]
        response = HtmlResponse(url=url, body=path.read_bytes())
        expected = [
            link.url
            for link in reference.extract_links(response)
            if not link.nofollow
            and discovery.in_site(link.url, domains)
            and not is_not_crawlable(link.url)
        ]
        tree = parse_html(response.text)
        assert not isinstance(tree, str), path
        base = links.base_url(tree, url)
        assert links.html_links(tree, base, response.encoding, domains) == expected, path
        compared += len(expected)
    assert compared > 300, "too few in-site links compared to prove anything"
