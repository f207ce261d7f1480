"""Request-level guards: `SSRFGuardMiddleware` keeps hostile pages from pointing the crawler
at the machine it runs on or at its private network.

A crawled site chooses the URLs we fetch (links, feed and sitemap entries, redirects, meta
refreshes, robots.txt `Sitemap:` lines), so every request is checked before any connection:

- scheme http or https only (no `file:`, `data:`, `ftp:`, `s3:`, ...);
- URL at most `NEWS_MAX_URL_LENGTH` characters (redirect targets included, which Scrapy's
  spider-side `URLLENGTH_LIMIT` never sees);
- the host, and every address it resolves to, public: not loopback, private, link-local
  (169.254.0.0/16, cloud metadata), unique-local (fc00::/7), multicast, reserved or
  unspecified; IPv4 inside IPv6 (`::ffff:a.b.c.d`, 6to4, NAT64) is judged by its IPv4 part.
  Addresses in `NEWS_ALLOWED_NETWORKS` (CIDRs) are let through, for crawling your own
  intranet or the tests' 127.0.0.1.

A refused request raises IgnoreRequest (the crawl goes on), adds 1 to `news/refused/<reason>`
and logs one line naming the URL. Checks that need no DNS run when a request is scheduled
(before the offsite filter, the dupefilter and robots.txt); the rest runs in `process_request`
(priority 40, before RobotsTxtMiddleware, so a refused host never even gets a robots.txt
request). Redirects and meta refreshes are new requests and are scheduled again, so they
pass both checks; robots.txt requests pass `process_request`.

Names are resolved once per host and run (concurrent requests to a new host share one
lookup), every address family: with Scrapy's own resolvers by `socket.getaddrinfo` in the
reactor's thread pool, with any other `TWISTED_DNS_RESOLVER` through that resolver. A name
that does not resolve fails as with Scrapy's own resolver (CannotResolveHostError: retried,
then given up), and nothing is connected. Requests with an errback are checked only in
`process_request`, so the errback receives the IgnoreRequest.

DNS rebinding (a name answering a public address to the check and 127.0.0.2 to the
connection): the guard puts a `GuardedNameResolver` in front of the reactor's name resolver,
which every outgoing TCP connection (Twisted's HostnameEndpoint) asks for its addresses. It
answers a checked name with exactly the addresses that were checked (all families), so no
second lookup happens, and checks again, at connect time, every address it hands out: a name
the guard has not checked (or has forgotten) is resolved then, and if any of its addresses is
outside the allow-list the connection gets no address at all (Twisted fails it with
DNSLookupError), `news/refused/<reason>` counts it, one WARNING names the host and address,
and the retried request is refused by name. Hosts of the proxies in the environment
(`http_proxy`, ...) are the operator's choice and are not checked.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import CannotResolveHostError
from scrapy.resolver import (
    CachingThreadedResolver,
    dnscache,
)
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import is_reactor_installed
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IHostnameResolver
from twisted.internet.threads import deferToThread

from crawler.net.ssrf import (
    ALLOWED_SCHEMES,
    DEFAULT_MAX_URL_LENGTH,
    MAX_CACHED_HOSTS,
    SYSTEM_RESOLVERS,
    GuardedNameResolver,
    IPAddress,
    RefusedRequest,
    address_problem,
    literal_address,
    name_key,
    parse_networks,
    resolve,
    resolve_through,
    short,
)

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class SSRFGuardMiddleware:
    """Downloader middleware refusing non-HTTP schemes, over-long URLs and non-public hosts."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.allowed = parse_networks(settings.getlist("NEWS_ALLOWED_NETWORKS"))
        self.max_url_length = settings.getint("NEWS_MAX_URL_LENGTH", DEFAULT_MAX_URL_LENGTH)
        self.addresses: dict[str, tuple[IPAddress, ...]] = {}  # host -> addresses, this run
        resolver = settings.get("TWISTED_DNS_RESOLVER")
        resolver_class = load_object(resolver) if resolver else None
        # Scrapy's resolvers ask the system: looked up here with getaddrinfo, every family.
        # Any other resolver (DoH, a fixed table, ...) is asked itself, through the reactor.
        self.system_lookup = resolver_class in (None, *SYSTEM_RESOLVERS)
        # Pin the checked IPv4 address in Scrapy's DNS cache too, for its default resolver.
        self.pin_dns = bool(
            resolver_class is CachingThreadedResolver and settings.getbool("DNSCACHE_ENABLED", True)
        )
        self.resolver: GuardedNameResolver | None = None  # in front of the reactor's, once running
        self.pending: dict[str, list[Deferred[tuple[IPAddress, ...]]]] = {}  # lookups under way

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = cls(crawler)
        crawler.signals.connect(guard.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(guard.install_resolver, signal=signals.engine_started)
        crawler.signals.connect(guard.uninstall_resolver, signal=signals.engine_stopped)
        return guard

    # --- the connection's name resolver ---------------------------------------------------------

    def install_resolver(self) -> None:
        """Put a GuardedNameResolver in front of the running reactor's name resolver.

        Done once the reactor runs (CrawlerProcess installs TWISTED_DNS_RESOLVER just before),
        and checked again before each request is sent, so nothing can slip it out."""
        if not is_reactor_installed():
            return
        from twisted.internet import reactor

        if not getattr(reactor, "running", False):
            return
        current = reactor.nameResolver  # type: ignore[attr-defined]
        if isinstance(current, GuardedNameResolver) and current.guard is self:
            return
        self.resolver = GuardedNameResolver(self, current)
        reactor.installNameResolver(self.resolver)  # type: ignore[attr-defined]

    def uninstall_resolver(self) -> None:
        if self.resolver is None or not is_reactor_installed():
            return
        from twisted.internet import reactor

        if reactor.nameResolver is self.resolver:  # type: ignore[attr-defined]
            reactor.installNameResolver(self.resolver.original)  # type: ignore[attr-defined]
        self.resolver = None

    def connectable_addresses(
        self, host: str, resolver: IHostnameResolver
    ) -> Deferred[tuple[IPAddress, ...]]:
        """At connect time: the addresses a connection to `host` may use, all checked.

        A checked name gets its checked addresses; another is resolved by `resolver` (and
        remembered, so a retried request is refused by name). Any address outside the
        allow-list: counted, logged with the host and address, and no address at all."""
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        literal = literal_address(bare)
        if literal is not None:
            found: Deferred[tuple[IPAddress, ...]] = succeed((literal,))
        else:
            cached = self.addresses.get(name_key(bare))
            if cached is not None:
                found = succeed(cached)
            else:
                found = resolve_through(resolver, bare)
                found.addCallback(self.store, bare)

        def check(addresses: tuple[IPAddress, ...]) -> tuple[IPAddress, ...]:
            try:
                self.check_addresses(bare, addresses)
            except RefusedRequest as refused:
                stat = f"news/refused/{refused.reason}"
                self.crawler.stats.inc_value(stat)
                logger.warning(
                    "Refused connection to %s: %s [%s]",
                    bare,
                    refused.detail,
                    stat,
                    extra={"spider": self.crawler.spider},
                )
                return ()
            return addresses

        return found.addCallback(check)

    # --- hooks --------------------------------------------------------------------------------

    def request_scheduled(self, request: Request) -> None:
        """Refuse early what needs no DNS (the engine drops a request on IgnoreRequest).

        A request with an errback is left to `process_request`, whose IgnoreRequest reaches
        the errback, so its spider learns why (`scrapy extract` prints the reason)."""
        if request.errback is not None:
            return
        try:
            self.check_without_dns(request)
        except RefusedRequest as refused:
            self.refuse(request, refused)

    async def process_request(self, request: Request) -> None:
        self.install_resolver()
        try:
            host = self.check_without_dns(request)
            if host is not None:
                await self.check_resolved(host)
        except RefusedRequest as refused:
            self.refuse(request, refused)

    # --- checks -------------------------------------------------------------------------------

    def check_without_dns(self, request: Request) -> str | None:
        """Raise RefusedRequest, or return the host name still to resolve (None: all checked)."""
        url = request.url
        if self.max_url_length and len(url) > self.max_url_length:
            raise RefusedRequest(
                "url_too_long", f"{len(url)} characters, NEWS_MAX_URL_LENGTH={self.max_url_length}"
            )
        parts = urlparse_cached(request)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise RefusedRequest("scheme", f"scheme {scheme!r} (only http and https are fetched)")
        try:
            host = parts.hostname
        except ValueError:  # e.g. an unbalanced "[" in the netloc
            host = None
        if not host:
            raise RefusedRequest("no_host", "URL has no host")
        ip = literal_address(host)
        if ip is not None:
            self.check_addresses(host, (ip,))
            return None
        cached = self.addresses.get(name_key(host))
        if cached is not None:
            self.check_addresses(host, cached)
            return None
        return host

    async def check_resolved(self, host: str) -> None:
        key = name_key(host)
        waiters = self.pending.get(key)
        if waiters is not None:
            # A lookup of this name is under way (several requests to a new host): share its
            # answer. A second lookup could get a second, rebound answer.
            shared: Deferred[tuple[IPAddress, ...]] = Deferred()
            waiters.append(shared)
            found = await maybe_deferred_to_future(shared)
        else:
            self.pending[key] = waiters = []
            try:
                found = await self.lookup(host)
            except (OSError, UnicodeError, ValueError) as exc:
                # Like any DNS failure: retried by RetryMiddleware, then given up, never
                # connected. Not cached, so a passing failure does not cost the site the run.
                error = CannotResolveHostError(f"DNS lookup failed for {host!r}: {exc}")
                for waiter in waiters:
                    waiter.errback(error)
                raise error from None
            except BaseException as exc:
                for waiter in waiters:
                    waiter.errback(exc)
                raise
            finally:
                self.pending.pop(key, None)
            for waiter in waiters:
                waiter.callback(found)
        self.remember(host, found)

    async def lookup(self, host: str) -> tuple[IPAddress, ...]:
        """All addresses of `host`: getaddrinfo in the reactor's thread pool, or the configured
        resolver when it is not one of Scrapy's."""
        if self.system_lookup or self.resolver is None:
            return await maybe_deferred_to_future(deferToThread(resolve, host))
        return await maybe_deferred_to_future(resolve_through(self.resolver.original, host))

    def store(self, found: tuple[IPAddress, ...], host: str) -> tuple[IPAddress, ...]:
        """Remember the host's addresses for the run: connections to it get exactly these."""
        if len(self.addresses) >= MAX_CACHED_HOSTS:
            self.addresses.clear()  # a forgotten name is resolved and checked at connect time
        self.addresses[name_key(host)] = found
        return found

    def remember(self, host: str, found: tuple[IPAddress, ...]) -> None:
        """Keep the host's addresses for the run (the connection gets exactly these), check
        them, and pin the checked IPv4 one in Scrapy's DNS cache too."""
        if not found:
            raise CannotResolveHostError(f"DNS lookup failed for {host!r}: no address")
        self.store(found, host)
        self.check_addresses(host, found)
        if self.pin_dns:
            ipv4 = next((a for a in found if isinstance(a, ipaddress.IPv4Address)), None)
            if ipv4 is not None:
                dnscache[host] = str(ipv4)

    def check_addresses(self, host: str, found: tuple[IPAddress, ...]) -> None:
        """Every address of the host must be public (or allow-listed)."""
        for ip in found:
            problem = address_problem(ip, self.allowed)
            if problem is not None:
                shown = str(ip) if host == str(ip) else f"{host!r} -> {ip}"
                raise RefusedRequest(problem, f"{problem.replace('_', '-')} address {shown}")

    def refuse(self, request: Request, refused: RefusedRequest) -> None:
        stat = f"news/refused/{refused.reason}"
        self.crawler.stats.inc_value(stat)
        logger.warning(
            "Refused %s %s: %s [%s]",
            request.method,
            short(request.url),
            refused.detail,
            stat,
            extra={"spider": self.crawler.spider},
        )
        raise refused
