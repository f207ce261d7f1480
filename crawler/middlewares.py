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

Names are resolved with `socket.getaddrinfo` in the reactor's thread pool, once per host and
run. A name that does not resolve fails as with Scrapy's own resolver (CannotResolveHostError:
retried, then given up), and nothing is connected. With Scrapy's default resolver the
checked IPv4 address is put in Scrapy's DNS cache, so the connection goes to the address that
was checked, not to a second answer of a rebinding DNS server. Requests with an errback are
checked only in `process_request`, so the errback receives the IgnoreRequest and its reason.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import CachingThreadedResolver, dnscache
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from twisted.internet.threads import deferToThread

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_URL_LENGTH = 2048
MAX_CACHED_HOSTS = 10_000  # a hostile site inventing subdomains cannot grow the cache forever
LOGGED_URL_CHARS = 200  # a refused URL can be megabytes long (data:, padding): log its head
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NUMERIC_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


class RefusedRequest(IgnoreRequest):
    """A request the SSRF guard will not send; `reason` is the stat suffix."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"refused ({reason}): {detail}")
        self.reason, self.detail = reason, detail


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`NEWS_ALLOWED_NETWORKS` entries as networks; a bad entry stops the crawl at start-up."""
    networks = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"NEWS_ALLOWED_NETWORKS: {text!r} is not a CIDR ({exc})") from None
    return tuple(networks)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and routes to (mapped, 6to4, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why the crawler may not connect to `ip` (a stat suffix), or None when it may."""
    inner = embedded_ipv4(ip)
    candidates = (ip,) if inner is None else (ip, inner)
    if any(addr in net for addr in candidates for net in allowed):
        return None
    target = inner or ip
    if target.is_unspecified:
        return "unspecified"
    if target.is_loopback:
        return "loopback"
    if target.is_link_local:
        return "link_local"
    if target.is_multicast:
        return "multicast"
    if isinstance(target, ipaddress.IPv6Address) and (
        target in UNIQUE_LOCAL or target.is_site_local
    ):
        return "unique_local"
    if target.is_private:
        return "private"
    if target.is_reserved:
        return "reserved"
    if not target.is_global:
        return "not_public"  # e.g. 100.64.0.0/10, carrier-grade NAT
    return None


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address when it is written as one, with no DNS: the standard notation,
    or the inet_aton spellings (2130706433, 0x7f.1, 0177.0.0.1, 127.1) that the resolver,
    and so the connection, would read as the same IPv4 address."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if NUMERIC_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve(host: str) -> tuple[IPAddress, ...]:
    """All addresses `host` resolves to (getaddrinfo also reads 2130706433, 0x7f.1, 0177.1)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def short(url: str) -> str:
    if len(url) <= LOGGED_URL_CHARS:
        return url
    return f"{url[:LOGGED_URL_CHARS]}...({len(url)} chars)"


class SSRFGuardMiddleware:
    """Downloader middleware refusing non-HTTP schemes, over-long URLs and non-public hosts."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.allowed = parse_networks(settings.getlist("NEWS_ALLOWED_NETWORKS"))
        self.max_url_length = settings.getint("NEWS_MAX_URL_LENGTH", DEFAULT_MAX_URL_LENGTH)
        self.addresses: dict[str, tuple[IPAddress, ...]] = {}  # host -> addresses, this run
        # Pin checked addresses in Scrapy's DNS cache when Scrapy's default resolver reads it.
        resolver = settings.get("TWISTED_DNS_RESOLVER")
        self.pin_dns = bool(
            resolver
            and load_object(resolver) is CachingThreadedResolver
            and settings.getbool("DNSCACHE_ENABLED", True)
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = cls(crawler)
        crawler.signals.connect(guard.request_scheduled, signal=signals.request_scheduled)
        return guard

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
        cached = self.addresses.get(host)
        if cached is not None:
            self.check_addresses(host, cached)
            return None
        return host

    async def check_resolved(self, host: str) -> None:
        try:
            found = await self.lookup(host)
        except (OSError, UnicodeError, ValueError) as exc:
            # Like any DNS failure: retried by RetryMiddleware, then given up, never connected.
            # Not cached, so a passing failure does not cost the site the whole run.
            raise CannotResolveHostError(f"DNS lookup failed for {host!r}: {exc}") from None
        self.remember(host, found)

    async def lookup(self, host: str) -> tuple[IPAddress, ...]:
        """All addresses of `host`, resolved in the reactor's thread pool."""
        return await maybe_deferred_to_future(deferToThread(resolve, host))

    def remember(self, host: str, found: tuple[IPAddress, ...]) -> None:
        """Keep the host's addresses for the run, check them, and pin the checked IPv4 one."""
        if not found:
            raise CannotResolveHostError(f"DNS lookup failed for {host!r}: no address")
        if len(self.addresses) >= MAX_CACHED_HOSTS:
            self.addresses.clear()
        self.addresses[host] = found
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
