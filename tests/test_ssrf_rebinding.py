"""SSRF by DNS rebinding (#14): a name that answers the guard's lookup with an address it lets
through, and the connection's lookup with 127.0.0.2, must not get the private server's page
archived.

The crawls are the real `scrapy crawl news` CLI. Its `TWISTED_DNS_RESOLVER` is this module's
`RebindingResolver`, which is Scrapy's default resolver class itself (so the guard treats the
crawl as any default crawl); importing this module in the crawl process with
`REBIND_DNS_STATE` set installs a fake rebinding DNS for `rebind.test` under both the
system calls a crawl resolves with (getaddrinfo, gethostbyname): the first lookup gets the
`first` answer, every later one `later`. Lookups are counted in a file.

Nothing here leaves 127.0.0.0/8 and ::1: the "public" first answer is ::1 or 127.0.0.3, let
through by an allow-list of just that address (nothing listens there), and the private server
is on 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.resolver import CachingThreadedResolver, dnscache
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from warcio.archiveiterator import ArchiveIterator

from crawler.net.middlewares import GuardedNameResolver, RefusedRequest, SSRFGuardMiddleware
from tests.conftest import PROJECT_ROOT, text_records
from tests.test_hostile import OUR_FRAME

HOST = "rebind.test"
SECRET = "Internal payroll figures, not for the archive"
STATE_ENV = "REBIND_DNS_STATE"


# --- the fake rebinding DNS, installed only in the crawl process ------------------------------


def install_fake_dns(state_file: str) -> None:
    """Answer `rebind.test` from `state_file` ({"first": [...], "later": [...]}), counting
    lookups in `<state_file>.count`; every other name goes to the real functions."""
    state = json.loads(Path(state_file).read_text())
    counter = Path(state_file + ".count")
    lock = threading.Lock()
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def answer() -> list[str]:
        with lock:
            count = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(count + 1))
        return state["first"] if count == 0 else state["later"]

    def getaddrinfo(host: Any, port: Any, family: int = 0, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(host, str) or host.lower().rstrip(".") != HOST:
            return real_getaddrinfo(host, port, family, *args, **kwargs)
        infos = []
        for text in answer():
            ip = ipaddress.ip_address(text)
            fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            if family in (0, fam):
                sockaddr = (text, port or 0) if ip.version == 4 else (text, port or 0, 0, 0)
                infos.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return infos

    def gethostbyname(host: str) -> str:
        if host.lower().rstrip(".") != HOST:
            return real_gethostbyname(host)
        ipv4 = [a for a in answer() if ipaddress.ip_address(a).version == 4]
        if not ipv4:  # an IPv6-only name has no A record
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ipv4[0]

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.gethostbyname = gethostbyname


if os.environ.get(STATE_ENV):
    install_fake_dns(os.environ[STATE_ENV])

RebindingResolver = CachingThreadedResolver  # TWISTED_DNS_RESOLVER of the crawls below


# --- the private server on 127.0.0.2 ----------------------------------------------------------


def article() -> bytes:
    paragraph = (
        f"<p>{SECRET}. The finance office keeps these numbers on the intranet only, and they "
        "must never leave the building, whatever a public page tries to make a crawler do.</p>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Payroll</title>"
        "<meta property='og:type' content='article'></head><body><article><h1>Payroll</h1>"
        f"{paragraph * 6}</article></body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path == "/robots.txt":
            status, body, ctype = 200, b"User-agent: *\nDisallow:\n", "text/plain"
        elif self.path == "/":
            status, ctype = 200, "text/html; charset=utf-8"
            body = b"<html><body><a href='/payroll/secret-story/'>Payroll</a></body></html>"
        elif self.path == "/payroll/secret-story/":
            status, body, ctype = 200, article(), "text/html; charset=utf-8"
        else:
            status, body, ctype = 404, b"not found", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]


@pytest.fixture
def private_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.2", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- a crawl of http://rebind.test:PORT/ ------------------------------------------------------


def crawl(tmp_path: Path, port: int, first: list[str], later: list[str], allowed: str,
          *extra: str, status: int = 0) -> tuple[str, Path, int]:  # fmt: skip
    """Run the crawl; (its log, its run folder, how many times rebind.test was looked up).
    `status`: the exit status expected (3: nothing could be fetched, everything refused)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    state = tmp_path / "dns.json"
    state.write_text(json.dumps({"first": first, "later": later}))
    archive = tmp_path / "archive"
    env = {**os.environ, STATE_ENV: str(state)}
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls=http://{HOST}:{port}/",
         "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=rebind",
         "-s", f"TWISTED_DNS_RESOLVER={__name__}.RebindingResolver",
         "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
         "-s", "DOWNLOAD_TIMEOUT=10", "-s", "RETRY_TIMES=1",
         "-s", f"NEWS_ALLOWED_NETWORKS={allowed}", *extra],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == status, result.stderr[-3000:]
    # no exception went through our code (Scrapy's download errors pass through rawcapture.py)
    assert not re.search(OUR_FRAME, result.stderr), (
        result.stderr[-5000:]
    )
    counter = Path(f"{state}.count")
    return result.stderr, archive / "news" / "rebind", int(counter.read_text() or 0)


def archived(run_dir: Path) -> tuple[list[str], list[str]]:
    """(URLs of the WARC response records, URLs of the text records) of the run."""
    responses = []
    for warc in sorted(run_dir.rglob("*.warc.gz")):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    responses.append(record.rec_headers.get_header("WARC-Target-URI"))
    texts = [r["url"] for r in text_records(run_dir)] if (run_dir / "text").exists() else []
    return responses, texts


def stats(log: str) -> str:
    return log.split("Dumping Scrapy stats")[-1]


@pytest.mark.parametrize(
    ("first", "allowed", "extra"),
    [
        # the issue: IPv6 only to the check (nothing pinned before #14), then 127.0.0.2
        (["::1"], "::1/128", ()),
        # a "public" IPv4 answer, then 127.0.0.2, without Scrapy's DNS cache to pin it in
        (["127.0.0.3"], "127.0.0.3/32", ("-s", "DNSCACHE_ENABLED=False")),
    ],
    ids=["ipv6-first", "ipv4-first-no-dnscache"],
)
def test_rebound_name_is_never_connected_to_its_second_answer(
    private_server: _Server, tmp_path: Path, first: list[str], allowed: str, extra: tuple[str]
) -> None:
    port = private_server.server_address[1]
    log, run_dir, lookups = crawl(tmp_path, port, first, ["127.0.0.2"], allowed, *extra, status=3)
    responses, texts = archived(run_dir)
    assert private_server.requests == [], private_server.requests
    assert not [u for u in responses if HOST in u], responses
    assert not [u for u in texts if HOST in u], texts
    assert SECRET not in log
    # one lookup, checked and pinned: the connections went to the checked address (where
    # nothing listens), never to the second answer
    assert lookups == 1, log[-3000:]
    # robots.txt (fetched by Scrapy's robots middleware, which the spider reads) was refused
    # at the checked address: nothing listens there
    refused = "robotstxt/exception_count/<class 'scrapy.exceptions.DownloadConnectionRefusedError'>"
    assert f'"{refused}": 1' in stats(log), log[-4000:]


def test_rebinding_setup_reaches_the_server_when_allowed(
    private_server: _Server, tmp_path: Path
) -> None:
    """Not vacuous: the same crawl, the name answering 127.0.0.2 throughout, archives the secret
    page with 127.0.0.0/8 allowed, and is refused (host and address named) without it."""
    port = private_server.server_address[1]
    log, run_dir, _ = crawl(tmp_path / "a", port, ["127.0.0.2"], ["127.0.0.2"], "127.0.0.0/8")
    responses, texts = archived(run_dir)
    assert f"http://{HOST}:{port}/payroll/secret-story/" in responses, log[-3000:]
    assert texts == [f"http://{HOST}:{port}/payroll/secret-story/"]
    served = len(private_server.requests)
    assert served >= 3  # robots.txt, /, the story

    log, run_dir, _ = crawl(
        tmp_path / "b", port, ["127.0.0.2"], ["127.0.0.2"], "::1/128", status=3
    )
    assert re.search(
        rf"WARNING: Refused GET http://{HOST}:{port}/: loopback address '{HOST}' -> 127\.0\.0\.2 "
        r"\[news/refused/loopback\]",
        log,
    ), log[-3000:]
    assert "'news/refused/loopback': " in stats(log)
    assert archived(run_dir) == ([], [])
    assert len(private_server.requests) == served


# --- the connect-time check, for names the guard has not checked (or has forgotten) ----------


class TableResolver:
    """A Twisted name resolver answering from a table, synchronously."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table, self.asked = table, []

    def resolveHostName(self, receiver: Any, host: str, port: int = 0, *args: Any) -> None:
        self.asked.append(host)
        receiver.resolutionBegan(None)
        for text in self.table.get(host, []):
            receiver.addressResolved(IPv4Address("TCP", text, port))
        receiver.resolutionComplete()


class Receiver:
    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []
        self.done = False

    def resolutionBegan(self, resolution: object) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append((address.host, address.port))

    def resolutionComplete(self) -> None:
        self.done = True


def test_connection_gets_checked_addresses_only(caplog: pytest.LogCaptureFixture) -> None:
    guard = SSRFGuardMiddleware(get_crawler(settings_dict={"NEWS_ALLOWED_NETWORKS": "::1/128"}))
    table = TableResolver({HOST: ["127.0.0.2"], "news.example.org": ["93.184.215.14"]})
    resolver = GuardedNameResolver(guard, table)  # type: ignore[arg-type]
    # a checked name: its checked addresses, every family, and no second lookup
    guard.remember("pinned.example.org", (ipaddress.ip_address("::1"),))
    got = Receiver()
    resolver.resolveHostName(got, "pinned.example.org", 8080)
    assert got.done and got.addresses == [("::1", 8080)] and table.asked == []
    # an unchecked public name: resolved now, checked, handed over
    got = Receiver()
    resolver.resolveHostName(got, "news.example.org", 80)
    assert got.addresses == [("93.184.215.14", 80)]
    # an unchecked name answering 127.0.0.2: no address at all (Twisted: DNSLookupError)
    got = Receiver()
    with caplog.at_level("WARNING"):
        resolver.resolveHostName(got, HOST, 80)
    assert got.done and got.addresses == []
    assert f"Refused connection to {HOST}: loopback address '{HOST}' -> 127.0.0.2" in caplog.text
    assert guard.crawler.stats.get_value("news/refused/loopback") == 1
    # ... and the retried request is refused by name, with no new lookup
    with pytest.raises(RefusedRequest, match=re.escape(f"'{HOST}' -> 127.0.0.2")):
        asyncio.run(guard.process_request(Request(f"http://{HOST}/")))
    assert table.asked == ["news.example.org", HOST]
    # literal addresses are checked at connect time too
    got = Receiver()
    resolver.resolveHostName(got, "127.0.0.2", 80)
    assert got.addresses == []
    got = Receiver()
    resolver.resolveHostName(got, "[::1]", 80)
    assert got.addresses == [("::1", 80)]


def test_no_second_lookup_after_the_check() -> None:
    """The guard's answer is what the connection gets, even if the resolver changed its mind."""
    guard = SSRFGuardMiddleware(get_crawler(settings_dict={}))
    table = TableResolver({"news.example.org": ["127.0.0.2"]})
    resolver = GuardedNameResolver(guard, table)  # type: ignore[arg-type]
    guard.remember("news.example.org", (ipaddress.ip_address("93.184.215.14"),))
    got = Receiver()
    checked: Deferred[Any] = guard.connectable_addresses("news.example.org", table)  # type: ignore[arg-type]
    assert checked.result == (ipaddress.ip_address("93.184.215.14"),)
    resolver.resolveHostName(got, "news.example.org", 443)
    assert got.addresses == [("93.184.215.14", 443)] and table.asked == []
    dnscache.pop("news.example.org", None)
