"""The `news` spider: seeds -> discovery (feeds, sitemaps, in-site links) -> Article items.

    scrapy crawl news -a urls=https://example.org/,https://example.org/feed.xml
    scrapy crawl news -a seeds=seeds/world.txt      # a seed file, or a folder of them
    scrapy crawl news -a seeds=seeds/ -a since=2026-11-01 -a until=2026-11-24
    scrapy crawl news -a seeds=seeds/ -a refetch=changed   # or: all (default: none)

Seeds may be pages, feeds or sitemaps; each response is sniffed. Each seed site's robots.txt
is read for `Sitemap:` lines and Crawl-delay (fetched once: crawler.discovery.robots), home
pages for advertised feeds. Articles that an earlier run stored (the seen-store) are not fetched
again; feeds and sitemaps are fetched with conditional GET, so an unchanged one costs a 304.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from crawler.control.startup import ArgumentError, check_arguments, check_settings
from crawler.discovery import documents as discovery
from crawler.discovery.documents import DateWindow, DocKind, canonical
from crawler.discovery.listing import Listing, read_listing, validators
from crawler.discovery.robots import SeedRobots
from crawler.discovery.seeds import Seed, SeedError, read_seeds, split_urls
from crawler.extract.extraction import Extraction, utc_now_iso
from crawler.extract.pool import ExtractionPool, LinkRequest
from crawler.frontier.seen import article_keys, conditional_headers, open_seen_store, text_digest
from crawler.items import CAPTURE_FIELDS, CAPTURE_META_KEY, Article

REFETCH_MODES = ("none", "changed", "all")
# Responses the spider wants to see although they are not 2xx.
NOT_MODIFIED = {"handle_httpstatus_list": [304]}
# Bad URLs logged a document (each one counted in news/skipped/bad_url/<source> regardless).
BAD_URLS_LOGGED = 5


class NoSeedsError(ArgumentError):
    """Raised at start-up when the arguments name no crawlable URL at all."""


class NewsSpider(scrapy.Spider):
    name = "news"
    # The -a arguments, with their one-line help: any other name is refused at start-up.
    ARGUMENTS: ClassVar[dict[str, str]] = {
        "urls": "seed URLs, comma-separated: pages, RSS/Atom feeds or sitemaps",
        "seeds": "a seed file (one URL a line), or a folder of them",
        "since": "fetch feed/sitemap entries dated from this day or time (YYYY-MM-DD or ISO"
        " 8601; default: NEWS_MAX_AGE_DAYS back)",
        "until": "fetch feed/sitemap entries dated up to this day (included) or time",
        "refetch": "articles an earlier run stored: none (default), changed or all",
    }

    def __init__(
        self,
        urls: str | None = None,
        seeds: str | None = None,
        since: str | None = None,
        until: str | None = None,
        refetch: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments(self.name, self.ARGUMENTS, kwargs)
        super().__init__(**kwargs)
        self.closing = False
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
        self.refetch = (refetch or "none").lower()
        if self.refetch not in REFETCH_MODES:
            raise ArgumentError(f"-a refetch={refetch!r}: use one of {', '.join(REFETCH_MODES)}")
        self.since, self.until = since, until
        # Link-following stays on the seeds' sites (their hosts without www., and below).
        hosts = {urlsplit(s.url).hostname or "" for s in self.seeds}
        self.allowed_domains = sorted({h.removeprefix("www.") for h in hosts if h})
        self.pages_per_domain: Counter[str] = Counter()
        # canonical links this run met already: a site's navigation links, on every page, cost
        # one set look-up each, not a seen-store query, a Request and the dupefilter's hash
        self.links_met: set[str] = set()
        self.bad_urls_logged: Counter[str] = Counter()  # document -> bad URLs logged

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        check_settings(crawler.settings)  # Scrapy builds the spider before its add-ons run
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.min_article_chars = settings.getint("NEWS_MIN_ARTICLE_CHARS", 400)
        spider.max_pages_per_domain = settings.getint("NEWS_MAX_PAGES_PER_DOMAIN", 10_000)
        spider.max_links_per_page = settings.getint("NEWS_MAX_LINKS_PER_PAGE", 500)
        spider.depth_limit = settings.getint("DEPTH_LIMIT")
        spider.window = DateWindow.build(
            spider.since, spider.until, settings.getfloat("NEWS_MAX_AGE_DAYS", 30)
        )
        # Schemes Scrapy has a download handler for: a discovered URL with another one
        # (javascript:, mailto:, ...) is a bad URL; file:, ftp:, ... are the SSRF guard's to
        # refuse and count (news/refused/scheme).
        handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
        spider.fetch_schemes = frozenset(s.lower() for s, h in handlers.items() if h)
        spider.seen = open_seen_store(crawler)  # Redis when REDIS_URL is set, else SQLite
        processes = settings.get("NEWS_EXTRACT_PROCESSES")
        spider.extractor = ExtractionPool(None if processes in (None, "") else int(processes))
        spider.robots = SeedRobots(crawler)
        if spider.robots.by_middleware:  # its robots.txt downloads reach no callback
            crawler.signals.connect(spider.robots_fetched, signal=signals.response_received)
        crawler.signals.connect(spider.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(spider.closed_store, signal=signals.spider_closed)
        return spider

    # --- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        stats = self.crawler.stats
        for error in self.seed_errors:
            self.logger.error("invalid seed skipped: %s", error)
            stats.inc_value("news/seeds/invalid")
        for seed in self.seeds:
            if self.closing:
                return
            stats.inc_value("news/seeds/valid")
            request = self.document_request(seed.url, meta={"seed": seed.source})
            if robots := self.robots.note(request.url, self.parse_robots):
                yield robots  # the spider's own: no robots middleware fetches robots.txt
            yield request

    def document_request(self, url: str, meta: dict[str, Any] | None = None) -> scrapy.Request:
        """A seed, feed or sitemap: always fetched, conditionally when we have validators
        (unless refetch=all, which re-reads everything). A seed that an earlier run stored as
        an article is asked for with that article's validators, and stored again only when its
        text changed (see `unchanged`)."""
        key = canonical(url)
        validators: tuple[str | None, str | None] = (None, None)
        if self.refetch != "all":
            validators = self.seen.validators(key)
            if not any(validators) and self.seen.has_article(key):
                validators = self.seen.article_validators(key)
        headers = conditional_headers(*validators)
        return scrapy.Request(
            url, callback=self.parse, headers=headers, meta={**NOT_MODIFIED, **(meta or {})}
        )

    def page_requests(self, keys: list[str], source: str) -> Iterator[scrapy.Request]:
        """Requests for the pages of canonical URLs `keys` that need fetching, each once: not
        those an earlier run stored (one seen-store query for all), nor those beyond their
        site's NEWS_MAX_PAGES_PER_DOMAIN."""
        stats = self.crawler.stats
        keys = list(dict.fromkeys(keys))
        stored = self.seen.seen_articles(keys) if keys else set()
        for key in keys:
            if key in stored and self.refetch == "none":
                stats.inc_value("news/skipped/seen")
            elif self.site_full(urlsplit(key).hostname or ""):
                stats.inc_value("news/skipped/domain_limit")
            else:
                stats.inc_value(f"news/requests_from/{source}")
                changed = key in stored and self.refetch == "changed"
                validators = self.seen.article_validators(key) if changed else (None, None)
                headers = conditional_headers(*validators)
                yield scrapy.Request(
                    key, callback=self.parse, headers=headers, meta=dict(NOT_MODIFIED)
                )

    def site_full(self, host: str) -> bool:
        """Whether the site had its NEWS_MAX_PAGES_PER_DOMAIN pages (else one more counted)."""
        count, cap = self.pages_per_domain[host], self.max_pages_per_domain
        if cap and count >= cap:
            return True
        self.pages_per_domain[host] = count + 1
        if count + 1 == cap:
            self.logger.warning(
                "%s: NEWS_MAX_PAGES_PER_DOMAIN=%d pages requested, further ones only counted "
                "(news/skipped/domain_limit)", host, cap,
            )  # fmt: skip
        return False

    def dated(
        self, entries: Iterator[discovery.Entry], source: str, document: str
    ) -> Iterator[scrapy.Request]:
        """Child sitemaps, then the pages (in one batch: one seen-store look-up for all)."""
        pages: list[str] = []
        # sitemaps.org: a <loc> is an absolute http(s) URL; a feed link need only be fetchable
        schemes = discovery.SITEMAP_SCHEMES if source == "sitemap" else self.fetch_schemes
        for entry in entries:
            if entry.is_sitemap:
                request = self.discovered(
                    entry.url, "sitemap_index", document, self.document_request, schemes
                )
                if request is not None:
                    yield request
            elif not self.window.allows(entry.date):
                self.crawler.stats.inc_value(f"news/skipped/out_of_window/{source}")
            else:  # a good URL is taken, a bad one counted and logged
                self.discovered(entry.url, source, document, pages.append, schemes)
        yield from self.page_requests([canonical(url) for url in pages], source)

    def discovered(
        self,
        url: str,
        source: str,
        document: str,
        build: Callable[[str], scrapy.Request | None],
        schemes: Collection[str] | None = None,
    ) -> scrapy.Request | None:
        """`build(url)` for a URL that `document` (a feed, sitemap, robots.txt or page)
        offers, or None for a bad one (javascript:, mailto:, a port out of range, an
        unparsable URL, a scheme not in `schemes`, by default those Scrapy can fetch):
        counted in news/skipped/bad_url/<source>, logged (the first BAD_URLS_LOGGED of a
        document), skipped: it costs only itself, not the rest of the document."""
        problem = discovery.url_problem(url, self.fetch_schemes if schemes is None else schemes)
        if problem is None:
            try:
                return build(url)
            except ValueError as exc:  # what scrapy.Request refuses beyond url_problem
                problem = str(exc)
        self.crawler.stats.inc_value(f"news/skipped/bad_url/{source}")
        logged = self.bad_urls_logged[document]
        if logged < BAD_URLS_LOGGED:
            self.logger.warning(
                "bad URL skipped in %s %s: %r (%s)%s",
                source, document, discovery.shorten(url), problem,
                " [further ones only counted]" if logged + 1 == BAD_URLS_LOGGED else "",
            )  # fmt: skip
        self.bad_urls_logged[document] = logged + 1
        return None

    # --- callbacks ------------------------------------------------------------------------

    def robots_fetched(self, response: Response, request: scrapy.Request) -> None:
        """Every response (signals.response_received): a seed site's robots.txt the robots
        middleware downloaded is read once; its sitemaps get DepthMiddleware's depth 1."""
        if self.robots.claim(request):
            for sitemap in self.parse_robots(response):
                sitemap.meta["depth"] = 1
                sitemap.priority -= self.settings.getint("DEPTH_PRIORITY")
                self.crawler.engine.crawl(sitemap)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        for sitemap in self.robots.read(response):
            request = self.discovered(sitemap, "robots", response.url, self.document_request)
            if request is not None:
                yield request

    async def parse(self, response: Response) -> AsyncIterator[Article | scrapy.Request]:
        stats = self.crawler.stats
        if response.status == 304:
            stats.inc_value("news/not_modified")
            for child in self.seen.children(canonical(response.url)):
                request = self.discovered(
                    child, "sitemap_index", response.url, self.document_request
                )
                if request is not None:
                    yield request
            return
        kind = discovery.sniff(response)
        stats.inc_value(f"news/pages/{kind.value}")
        # A feed's or sitemap's validators are saved only once every entry became a request
        # (or was skipped) and the document was read to its end: otherwise the next run's 304
        # would hide the entries this run did not get to.
        if kind in (DocKind.FEED, DocKind.SITEMAP):
            limit = response.meta.get("download_maxsize") or self.settings.getint(
                "DOWNLOAD_MAXSIZE"
            )
            listing = read_listing(response, kind, limit)
            if listing.unreadable is not None:
                self.logger.warning("unreadable sitemap skipped: %s (%r)", response.url,
                                    listing.unreadable)  # fmt: skip
                stats.inc_value("news/skipped/bad_sitemap")
                return
            for request in self.dated(iter(listing.entries), kind.value, response.url):
                yield request
            self.remember_validators(response.url, listing)
        elif kind is DocKind.HTML and isinstance(response, TextResponse):
            # Extraction, advertised feeds and links all come from an extraction worker.
            capture = response.meta.get(CAPTURE_META_KEY, {})
            page = await self.extractor.read_page(
                response,
                self.link_request(response),
                fetched_at=capture.get("fetched_at") or utc_now_iso(),
                min_chars=self.min_article_chars,
            )
            article = self.article(response, page.extraction)
            if article is not None:
                yield article
            for feed in page.feeds:
                request = self.discovered(feed, "page", response.url, self.document_request)
                if request is not None:
                    yield request
            if page.links_over_cap:
                stats.inc_value("news/skipped/links_over_cap", page.links_over_cap)
                self.logger.info(
                    "%d links beyond NEWS_MAX_LINKS_PER_PAGE=%d not followed: %s",
                    page.links_over_cap, self.max_links_per_page, response.url,
                )  # fmt: skip
            links = [url for url in page.links if url not in self.links_met]
            self.links_met.update(links)
            for request in self.page_requests(links, "link"):
                yield request

    def link_request(self, response: Response) -> LinkRequest:
        """The links wanted of a page: none at DEPTH_LIMIT, where Scrapy's DepthMiddleware
        would drop every request made from them."""
        depth = response.meta.get("depth", 0)
        follow = not self.depth_limit or depth < self.depth_limit
        return LinkRequest(self.allowed_domains, follow, self.max_links_per_page)

    def remember_validators(self, url: str, listing: Listing) -> None:
        if not listing.whole:
            self.crawler.stats.inc_value("news/incomplete_document")
            self.logger.warning(
                "document not read to its end (cut short, or not XML): its entries so far "
                "were taken, its validators not saved, so the next run fetches it in full: %s",
                url,
            )
            return
        self.seen.save_validators(
            canonical(url), listing.etag, listing.last_modified, listing.children
        )

    def article(self, response: TextResponse, result: Extraction) -> Article | None:
        """The page's Article with its WARC pointers, or None for index and other pages."""
        capture = response.meta.get(CAPTURE_META_KEY, {})
        if result.article is None or result.not_article:
            reason = result.not_article or "no_text"
            self.crawler.stats.inc_value(f"news/not_article/{reason.split(':')[0]}")
            self.logger.debug("not an article (%s): %s", reason, response.url)
            return None
        article = result.article
        if self.unchanged(response, article):
            self.crawler.stats.inc_value("news/skipped/unchanged")
            self.mark_seen(response, article)  # the URLs of this fetch lead to it too
            return None
        article.status = response.status
        for name in CAPTURE_FIELDS:
            if name in capture:
                setattr(article, name, capture[name])
        self.crawler.stats.inc_value("news/articles")
        if article.page_type != "article":  # stored, but a researcher may filter it out
            self.crawler.stats.inc_value(f"news/page_type/{article.page_type}")
        return article

    # --- seen-store -----------------------------------------------------------------------

    def unchanged(self, response: Response, article: Article) -> bool:
        """An article an earlier run stored under any URL of this fetch, with the same text: a
        seed, a redirect's target or a refetch=changed page is stored again only when its text
        changed (refetch=all stores it again anyway)."""
        if self.refetch == "all":
            return False
        digest = text_digest(article.text)
        # a URL the store does not hold has no digest: one look-up per URL answers both
        return any(
            self.seen.article_text_digest(key) == digest for key in article_keys(response, article)
        )

    def item_scraped(self, item: Any, response: Response) -> None:
        """Mark an article seen once the pipelines have stored it, not before."""
        if isinstance(item, Article):
            self.mark_seen(response, item)

    def mark_seen(self, response: Response, article: Article) -> None:
        """Every URL that led to the article: the redirect chain, where it ended, and the
        canonical URL, so that a later link to any of them is known."""
        run_id = self.crawler.stats.get_value("archive/run_id") or ""
        digest = text_digest(article.text)
        etag, last_modified = validators(response)
        for key in article_keys(response, article):
            self.seen.mark_article(key, run_id, etag, last_modified, digest)

    def closed_store(self) -> None:
        self.closing = True  # start() stops asking the closed store (a full disk at start-up)
        self.extractor.close()
        self.seen.close()
