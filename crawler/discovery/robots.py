"""The robots.txt of each seed's site: fetched once a run, read for `Sitemap:` and Crawl-delay.

With ROBOTSTXT_OBEY, Scrapy's RobotsTxtMiddleware downloads a site's robots.txt before it lets
any request to the site through (the engine's `download_async`, which calls no callback). A
robots.txt request of the spider's own would fetch it a second time: a second hit on the site
and a second WARC record. So the spider reads the middleware's response instead, which the
engine signals (`response_received`) like every response; it requests robots.txt itself only
when no middleware does (ROBOTSTXT_OBEY off). Either way: one fetch per site and run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from protego import Protego
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.settings import BaseSettings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from crawler.control.extensions import set_crawl_delay
from crawler.discovery.documents import join_url

# The spider's own robots.txt request (no robots middleware): read whatever its status.
ROBOTS_META = {"dont_obey_robotstxt": True, "handle_httpstatus_all": True}


def middleware_fetches_robots(settings: BaseSettings) -> bool:
    """Whether a RobotsTxtMiddleware (Scrapy's or a subclass) runs and fetches robots.txt."""
    if not settings.getbool("ROBOTSTXT_OBEY"):
        return False  # the middleware raises NotConfigured
    enabled = build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    return any(issubclass(load_object(path), RobotsTxtMiddleware) for path in enabled)


def robots_url(url: str) -> str:
    """The robots.txt of a URL's site, spelt as Scrapy's RobotsTxtMiddleware spells it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def read_robots(response: Response, user_agent: str) -> tuple[list[str], float | None]:
    """The `Sitemap:` URLs (joined to the robots.txt's URL; a bad one kept as written, for
    the spider to count) and the Crawl-delay for `user_agent` of a robots.txt; nothing from
    an error page or a body that is not text."""
    if response.status != 200 or not isinstance(response, TextResponse):
        return [], None
    parsed = Protego.parse(response.text)
    delay = parsed.crawl_delay(user_agent)
    sitemaps = [join_url(response.url, url) for url in parsed.sitemaps]
    return sitemaps, float(delay) if delay is not None else None


class SeedRobots:
    """The seed sites' robots.txt files the spider is to read, each once, and who fetches each:
    the robots middleware (`by_middleware`), else the spider."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.by_middleware = middleware_fetches_robots(crawler.settings)
        self.noted: set[str] = set()
        self.unread: set[str] = set()  # noted, fetched by the middleware, not read yet

    def note(self, seed_request_url: str, callback: Callable[..., Any]) -> Request | None:
        """Note a seed's site (give the seed's Request URL: normalised as the middleware sees
        it); the spider's own request for its robots.txt, or None (noted before, or fetched
        by the middleware)."""
        url = robots_url(seed_request_url)
        if url in self.noted:
            return None
        self.noted.add(url)
        if self.by_middleware:
            self.unread.add(url)
            return None
        return Request(url, callback=callback, priority=10, meta=dict(ROBOTS_META))

    def claim(self, request: Request) -> bool:
        """Whether `request`, just answered, is the middleware's download of a noted site's
        robots.txt not read yet (it is then taken). A redirected one counts under the URL the
        middleware asked for, as the middleware keeps its rules under that site."""
        if request.callback is not NO_CALLBACK or not self.unread:
            return False
        asked = (request.meta.get("redirect_urls") or [request.url])[0]
        if asked not in self.unread:
            return False
        self.unread.discard(asked)
        return True

    def read(self, response: Response) -> list[str]:
        """The `Sitemap:` URLs of a seed site's robots.txt; its Crawl-delay is recorded."""
        user_agent = self.crawler.settings.get("USER_AGENT", "*")
        sitemaps, delay = read_robots(response, user_agent)
        if delay:
            set_crawl_delay(self.crawler, urlsplit(response.url).hostname or "", delay)
        return sitemaps
