"""The `news` spider: seeds -> discovery (feeds, sitemaps, in-site links) -> Article items.

scrapy crawl news -a urls=https://example.org/,https://example.org/feed.xml
scrapy crawl news -a seeds=seeds/world.txt      # a seed file, or a folder of them
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from crawler import discovery
from crawler.discovery import DocKind
from crawler.extraction import extract, utc_now_iso
from crawler.items import CAPTURE_FIELDS, CAPTURE_META_KEY, Article
from crawler.seeds import Seed, SeedError, read_seeds, split_urls


class NoSeedsError(ValueError):
    """Raised at start-up when the arguments name no crawlable URL at all."""


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, urls: str | None = None, seeds: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not urls and not seeds:
            raise NoSeedsError("the news spider needs -a urls=URL[,URL...] or -a seeds=PATH")
        found: list[Seed | SeedError] = []
        if urls:
            found.extend(split_urls(urls))
        if seeds:
            found.extend(read_seeds(seeds))
        self.seeds = [s for s in found if isinstance(s, Seed)]
        self.seed_errors = [s for s in found if isinstance(s, SeedError)]
        if not self.seeds:
            problems = "; ".join(map(str, self.seed_errors)) or "no URL given"
            raise NoSeedsError(f"no valid seed URL ({problems})")
        # Link-following stays on the seeds' sites; OffsiteMiddleware enforces it (subdomains too).
        hosts = {urlsplit(s.url).hostname or "" for s in self.seeds}
        self.allowed_domains = sorted({h.removeprefix("www.") for h in hosts if h})

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.min_article_chars = crawler.settings.getint("NEWS_MIN_ARTICLE_CHARS", 400)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        stats = self.crawler.stats
        for error in self.seed_errors:
            self.logger.error("invalid seed skipped: %s", error)
            stats.inc_value("news/seeds/invalid")
        for seed in self.seeds:
            stats.inc_value("news/seeds/valid")
            yield scrapy.Request(seed.url, callback=self.parse, meta={"seed": seed.source})

    def parse(self, response: Response) -> Iterator[Article | scrapy.Request]:
        kind = discovery.sniff(response)
        self.crawler.stats.inc_value(f"news/pages/{kind.value}")
        if kind is DocKind.FEED:
            for url in discovery.feed_links(response):
                yield response.follow(url, callback=self.parse)
        elif kind is DocKind.SITEMAP:
            for url, _is_child_sitemap in discovery.sitemap_links(response):
                yield response.follow(url, callback=self.parse)
        elif kind is DocKind.HTML and isinstance(response, TextResponse):
            article = self.article(response)
            if article is not None:
                yield article
            for url in discovery.html_links(response, self.allowed_domains):
                yield response.follow(url, callback=self.parse)

    def article(self, response: TextResponse) -> Article | None:
        """The page's Article with its WARC pointers, or None for index and other pages."""
        capture = response.meta.get(CAPTURE_META_KEY, {})
        fetched_at = capture.get("fetched_at") or utc_now_iso()
        result = extract(
            response.text, response.url, fetched_at=fetched_at, min_chars=self.min_article_chars
        )
        if result.article is None or result.not_article:
            reason = result.not_article or "no_text"
            self.crawler.stats.inc_value(f"news/not_article/{reason.split(':')[0]}")
            self.logger.debug("not an article (%s): %s", reason, response.url)
            return None
        article = result.article
        article.status = response.status
        for name in CAPTURE_FIELDS:
            if name in capture:
                setattr(article, name, capture[name])
        self.crawler.stats.inc_value("news/articles")
        return article
