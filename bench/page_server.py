"""The bench's page server: newsbench's real pages at their original paths with their own
links (or issue #7's synthetic pages), in its own process, responses built once."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
NEWSBENCH = ROOT.parent / "shared" / "newsbench"


def page_set(folder: Path | str | None) -> Path:
    """A page set's folder (pages.jsonl and html/<id>.html.gz; its html/ folder named will
    do): newsbench's when none is given."""
    folder = Path(folder) if folder else NEWSBENCH
    if not (folder / "pages.jsonl").exists() and (folder.parent / "pages.jsonl").exists():
        folder = folder.parent
    return folder


def real_corpus(base: str, folder: Path | str | None = None) -> list[tuple[str, bytes]]:
    """A page set's pages (newsbench's by default) as (original path, body), their own site's
    absolute links pointed at `base` (with and without www., http, https and scheme-relative).
    A path two pages share gets a /d<n> prefix on the second: every page is served."""
    folder = page_set(folder)
    pages: list[tuple[str, bytes]] = []
    taken: set[str] = set()
    for line in (folder / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        meta = json.loads(line)
        body = gzip.decompress((folder / "html" / f"{meta['id']}.html.gz").read_bytes())
        parts = urlsplit(meta["url"])
        site = (parts.hostname or "").removeprefix("www.")
        for host in (f"www.{site}", site):
            for scheme in ("https://", "http://", "//"):
                body = body.replace(f"{scheme}{host}".encode(), base.encode())
        path = parts.path or "/"
        if path in taken:
            path = f"/d{len(pages)}{path}"
        taken.add(path)
        pages.append((path, body))
    return pages


def page_path(real: list[tuple[str, bytes]], number: int) -> str:
    """Where page `number` is served: the n-th real page's path, under /r<k>/ from k = 1."""
    path = real[number % len(real)][0]
    repetition = number // len(real)
    return path if repetition == 0 else f"/r{repetition}{path}"


def page_body(bodies: list[bytes], number: int) -> bytes:
    """Page `number`'s payload: unique, so WARC deduplication writes a full record."""
    return bodies[number % len(bodies)] + f"\n<!-- page {number} -->\n".encode()


def real_body(real: list[tuple[str, bytes]], base: str, number: int) -> bytes:
    """A real page's payload, its links to itself (canonical, og:url, share links) pointing at
    its repetition: else every repetition would be the first one's article, unchanged, and
    the spider would not store it again."""
    (path, body), repetition = real[number % len(real)], number // len(real)
    body += f"\n<!-- page {number} -->\n".encode()
    for quote in ('"', "'") if repetition else ():
        body = body.replace(
            f"{base}{path}{quote}".encode(), f"{base}/r{repetition}{path}{quote}".encode()
        )
    return body


def corpus() -> list[bytes]:
    """Synthetic article pages to serve, round robin."""
    fixtures = json.loads((ROOT / "tests/fixtures/extraction/expected.json").read_text())
    pages = [
        (ROOT / "tests/fixtures/extraction" / e["file"]).read_bytes()
        for e in fixtures
        if e["kind"] == "article"
    ]
    demo = json.loads((ROOT / "crawler/demo/pages.json").read_text())
    for page in demo:
        if page["kind"] == "article":
            path = ROOT / "crawler/demo/site" / page["path"].strip("/")
            path = path / "index.html" if page["path"].endswith("/") else path
            pages.append(path.read_bytes())
    return pages


def serve(port_queue: Any, pages: int, synthetic: bool, folder: str | None = None) -> None:
    """A lean HTTP/1.1 keep-alive server (asyncio streams, responses built once): it should
    cost the machine far less CPU per page than the crawler it feeds, as a real site does.
    http.server parses every request's headers with the email package, which on 2 cores
    took CPU from the crawler under test."""
    bodies = corpus() if synthetic else []
    real: list[tuple[str, bytes]] = []
    numbers: dict[str, int] = {}  # real mode: unquoted path -> page number

    def response(status: str, ctype: str, body: bytes) -> bytes:
        head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    cache: dict[str, bytes] = {}

    def page_url(base: str, number: int) -> str:
        return f"{base}/p/{number}/" if synthetic else base + page_path(real, number)

    def answer(path: str, base: str) -> bytes:
        if synthetic and path.startswith("/p/"):
            number = int(path.split("/")[2])
            return response("200 OK", "text/html; charset=utf-8", page_body(bodies, number))
        if not synthetic and not real:
            real.extend(real_corpus(base, folder))
            numbers.update({unquote(page_path(real, n)): n for n in range(pages)})
        number = numbers.get(unquote(path.split("?", 1)[0]))
        if number is not None:
            return response("200 OK", "text/html; charset=utf-8", real_body(real, base, number))
        if path not in cache:
            if path.startswith("/sitemap.xml"):
                count = int(path.partition("?n=")[2] or pages)
                urls = "".join(
                    f"<url><loc>{escape(page_url(base, i))}</loc></url>" for i in range(count)
                )
                xml = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                       f'sitemap/0.9">{urls}</urlset>')  # fmt: skip
                cache[path] = response("200 OK", "application/xml", xml.encode())
            elif path == "/robots.txt":
                cache[path] = response("200 OK", "text/plain", b"User-agent: *\nDisallow:\n")
            else:
                cache[path] = response(
                    "404 Not Found", "text/html", b"<html><body><h1>Not found</h1></body></html>"
                )
        return cache[path]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        base = "http://127.0.0.1:{}".format(writer.get_extra_info("sockname")[1])
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1].decode("latin-1")
                writer.write(answer(path, base))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(client, "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())
