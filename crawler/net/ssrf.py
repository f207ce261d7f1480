"""Which addresses the crawler may connect to, and the name resolver that enforces it at
connect time (crawler.net.middlewares.SSRFGuardMiddleware installs it; its docstring says how).

`address_problem` judges one address (loopback, private, link-local, unique-local, multicast,
reserved, unspecified; IPv4 inside IPv6 by its IPv4 part) against `NEWS_ALLOWED_NETWORKS`;
`GuardedNameResolver` stands in front of the reactor's name resolver, so a connection gets
exactly the addresses that were checked (DNS rebinding changes nothing).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import (
    CachingHostnameResolver,
    CachingThreadedResolver,
    HostResolution,
)
from twisted.internet import address as twisted_address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

if TYPE_CHECKING:
    from crawler.net.middlewares import SSRFGuardMiddleware

    pass

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_URL_LENGTH = 2048
MAX_CACHED_HOSTS = 10_000  # a hostile site inventing subdomains cannot grow the cache forever
LOGGED_URL_CHARS = 200  # a refused URL can be megabytes long (data:, padding): log its head
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SYSTEM_RESOLVERS = (CachingThreadedResolver, CachingHostnameResolver)  # the system resolver
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


def name_key(host: str) -> str:
    """The form a host name is remembered under (lower case, IDNA)."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()  # never matches a checked name: resolved and checked at connect


def resolve_through(resolver: IHostnameResolver, host: str) -> Deferred[tuple[IPAddress, ...]]:
    """All IP addresses a Twisted name resolver gives for `host`, every family asked."""
    done: Deferred[tuple[IPAddress, ...]] = Deferred()
    found: list[IPAddress] = []

    @implementer(IResolutionReceiver)
    class Receiver:
        def resolutionBegan(self, resolution: object) -> None:
            pass

        def addressResolved(self, address: object) -> None:
            with contextlib.suppress(ValueError):  # not an IP address: never connected to
                found.append(ipaddress.ip_address(getattr(address, "host", None)))

        def resolutionComplete(self) -> None:
            done.callback(tuple(dict.fromkeys(found)))

    try:
        resolver.resolveHostName(Receiver(), host, 0, None, "TCP")
    except Exception as exc:  # a failing resolver is a failed lookup
        if not done.called:
            done.errback(exc)
    return done


def proxy_hosts() -> frozenset[str]:
    """Hosts of the proxies in the environment (`http_proxy`, ...): the operator's choice."""
    hosts = set()
    for url in getproxies().values():
        try:
            host = urlsplit(url if "://" in url else f"http://{url}").hostname
        except ValueError:
            continue
        if host:
            hosts.add(name_key(host))
    return frozenset(hosts)


@implementer(IHostnameResolver)
class GuardedNameResolver:
    """The reactor's name resolver as every TCP connection sees it, behind the SSRF guard.

    A name the guard has checked gets exactly its checked addresses (no second lookup, so
    no second, rebound answer); any other name is resolved by the resolver it wraps. Either
    way every address is checked here, at connect time, and a name with any address outside
    the allow-list gets none: Twisted's HostnameEndpoint then fails with DNSLookupError and
    connects nowhere."""

    def __init__(self, guard: SSRFGuardMiddleware, original: IHostnameResolver) -> None:
        self.guard, self.original = guard, original
        self.proxies = proxy_hosts()

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Iterable[type] | None = None,
        transportSemantics: str = "TCP",
    ) -> object:
        if name_key(hostName) in self.proxies:
            return self.original.resolveHostName(
                resolutionReceiver, hostName, portNumber, addressTypes, transportSemantics
            )
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        types = None if addressTypes is None else tuple(addressTypes)

        def deliver(addresses: tuple[IPAddress, ...]) -> None:
            for ip in addresses:
                if ip.version == 4:
                    kind: type = twisted_address.IPv4Address
                else:
                    kind = twisted_address.IPv6Address
                if types is None or kind in types:
                    resolutionReceiver.addressResolved(kind("TCP", str(ip), portNumber))

        def failed(failure: Any) -> None:
            if not failure.check(OSError, UnicodeError, ValueError, CannotResolveHostError):
                logger.error("SSRF guard: resolving %r failed: %s", hostName, failure.value)

        checked = self.guard.connectable_addresses(hostName, self.original)
        checked.addCallbacks(deliver, failed)
        checked.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution
