"""Reactor CPU for WARC writing, per page, on real news pages (#15).

Feeds N responses built from ../shared/newsbench/html/*.html.gz bodies (read in place) to
WarcCaptureExtension, with an article's text records for each, then closes it (index
included), and prints the CPU time of the calling thread (the reactor's part) and of the
writer thread. `--inline` measures the same records written the way the extension wrote them
before: warcio at gzip level 9 in the calling thread, and the CDXJ index read back from the
WARCs at close. `--compare` prints, side by side, the CPU time and size of zlib and zlib-ng
gzip members at the WARC writer's level against zlib's level 6 (issue #23).

    python bench/warc_writing.py [--pages 500] [--inline] [--compare]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from warcio.warcwriter import WARCWriter

from crawler.items import CAPTURE_META_KEY, Article
from pipelines.index import write_cdxj
from pipelines.warc import WarcCaptureExtension, payload_digest, request_head, response_head

HTML = Path(__file__).resolve().parents[2] / "shared" / "newsbench" / "html"


def pages(count: int) -> list[tuple[str, bytes]]:
    paths = sorted(HTML.glob("*.html.gz"))
    if not paths:
        raise SystemExit(f"no pages in {HTML}")
    bodies = [(p.name.removesuffix(".html.gz"), gzip.decompress(p.read_bytes())) for p in paths]
    return [(f"https://{name}.example/{n}", body) for n, (name, body) in
            ((n, bodies[n % len(bodies)]) for n in range(count))]  # fmt: skip


def response_for(url: str, body: bytes) -> tuple[Request, HtmlResponse]:
    request = Request(url, headers={"User-Agent": "bench"})
    headers = {"Content-Type": "text/html; charset=utf-8"}
    return request, HtmlResponse(url, body=body, headers=headers, request=request)


def article_for(request: Request, body: bytes) -> Article:
    capture = request.meta[CAPTURE_META_KEY]
    text = body[: len(body) // 10].decode("utf-8", "replace")  # an article's worth of text
    article = Article(id=request.url, url=request.url, title="t", text=text)
    article.warc_record_id = capture["warc_record_id"]
    article.warc_filename = capture["warc_filename"]
    return article


def threaded(root: Path, feed: list[tuple[str, bytes]]) -> tuple[float, float]:
    from scrapy import Spider

    class News(Spider):
        name = "news"

    # no deduplication: the pages repeat, and every one is to be compressed as a response
    settings = {"ARCHIVE_URI": str(root), "ARCHIVE_RUN_ID": "bench", "WARC_DEDUP": False}
    ext = WarcCaptureExtension.from_crawler(get_crawler(News, settings))
    spider = News()
    started, started_all = time.thread_time(), time.process_time()
    for url, body in feed:
        request, response = response_for(url, body)
        ext.response_downloaded(response, request, spider)
        ext.item_scraped(article_for(request, body))
    ext.spider_closed()
    reactor = time.thread_time() - started
    return reactor, time.process_time() - started_all - reactor


def inline(root: Path, feed: list[tuple[str, bytes]]) -> float:
    """The records as before: built, digested, gzipped (level 9) and written here; the index
    read back from the WARC at close."""
    warc = root / "inline.warc.gz"
    started = time.thread_time()
    with warc.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="1.1")
        for url, body in feed:
            request, response = response_for(url, body)
            digest = payload_digest(body)
            record = writer.create_warc_record(
                url, "response", payload=BytesIO(body), length=len(body),
                http_headers=response_head(response),
                warc_headers_dict={"WARC-Payload-Digest": digest},
            )  # fmt: skip
            writer.write_record(record)
            writer.write_record(writer.create_warc_record(
                url, "request", payload=BytesIO(b""), length=0, http_headers=request_head(request)
            ))  # fmt: skip
            for rec_type in ("conversion", "metadata"):
                text = body[: len(body) // 10]
                writer.write_record(writer.create_warc_record(
                    f"urn:{rec_type}:{url}", rec_type, payload=BytesIO(text), length=len(text),
                    warc_content_type="text/plain",
                ))  # fmt: skip
            handle.flush()
    write_cdxj([warc], root / "index.cdxj")
    return time.thread_time() - started


def compare(feed: list[tuple[str, bytes]], rounds: int = 3) -> None:
    """zlib and zlib-ng over each page's HTML, one gzip member a page as the WARC writer makes
    them, interleaved; median CPU of `rounds`, sizes against zlib's level 6."""
    import statistics
    import zlib

    from zlib_ng import zlib_ng

    from pipelines.warc_writer import GZIP_LEVEL

    def member(module: Any, level: int, body: bytes) -> bytes:
        compressor = module.compressobj(level, module.DEFLATED, module.MAX_WBITS | 16)
        return compressor.compress(body) + compressor.flush()

    cases = [("zlib", zlib, 6), ("zlib", zlib, 9), ("zlib-ng", zlib_ng, GZIP_LEVEL)]
    times: dict[int, list[float]] = {i: [] for i in range(len(cases))}
    sizes: dict[int, int] = {}
    for _round in range(rounds):
        for i, (_name, module, level) in enumerate(cases):
            started = time.process_time()
            sizes[i] = sum(len(member(module, level, body)) for _, body in feed)
            times[i].append((time.process_time() - started) / len(feed) * 1000)
    for i, (name, _module, level) in enumerate(cases):
        print(f"{name:8} level {level}: {statistics.median(times[i]):.2f} ms/page, "
              f"size {sizes[i] / sizes[0]:.3f}x zlib level 6")  # fmt: skip
    sample = member(zlib_ng, GZIP_LEVEL, feed[0][1])
    assert gzip.decompress(sample) == feed[0][1], "zlib-ng's member is not plain gzip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--inline", action="store_true", help="the old way, for comparison")
    parser.add_argument("--compare", action="store_true", help="zlib vs zlib-ng: CPU and size")
    args = parser.parse_args()
    feed = pages(args.pages)
    if args.compare:
        compare(feed)
        return
    mean_kb = sum(len(b) for _, b in feed) / len(feed) / 1024
    with tempfile.TemporaryDirectory() as tmp:
        if args.inline:
            reactor = inline(Path(tmp), feed)
            print(f"inline (level 9, index read back): reactor {reactor / len(feed) * 1000:.2f}"
                  f" ms/page ({len(feed)} pages, {mean_kb:.0f} KB each)")  # fmt: skip
            return
        reactor, writer = threaded(Path(tmp), feed)
        print(f"writer thread (level 6, live index): reactor {reactor / len(feed) * 1000:.2f}"
              f" ms/page, writer thread {writer / len(feed) * 1000:.2f} ms/page"
              f" ({len(feed)} pages, {mean_kb:.0f} KB each)")  # fmt: skip


if __name__ == "__main__":
    main()
