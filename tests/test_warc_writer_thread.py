"""The WARC writer thread (#15): records land in the order they were captured, pointers are
exact, revisits and rotation work as before, and the CDXJ index made as records are written is
byte for byte what the `cdxj-indexer` command writes from the WARCs afterwards."""

from __future__ import annotations

import gzip
import itertools
import os
import pickle
import subprocess
import sys
from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse, Response
from warcio.archiveiterator import ArchiveIterator

from crawler.items import CAPTURE_META_KEY, Article
from pipelines.warc import WarcCaptureExtension
from pipelines.warc_writer import QUEUE_JOBS
from tests.test_warc_capture import DemoSpider, make_extension, warcio_check

CDXJ_INDEXER = Path(sys.executable).parent / "cdxj-indexer"
PAGES = 20
NEWSBENCH = Path(__file__).resolve().parents[2] / "shared" / "newsbench" / "html"


def downloaded(
    ext: WarcCaptureExtension, url: str, body: bytes, status: int = 200, **headers: str
) -> Request:
    request = Request(url, headers={"User-Agent": "newsarchiver-test"})
    cls = HtmlResponse if status == 200 else Response
    response = cls(url, status=status, headers=headers, body=body, request=request)
    ext.response_downloaded(response, request, DemoSpider())
    return request


def scraped(ext: WarcCaptureExtension, request: Request, text: str) -> None:
    """The article the spider would make of the page: its WARC pointers from the capture."""
    capture = request.meta[CAPTURE_META_KEY]
    article = Article(id=request.url, url=request.url, title="A story", text=text)
    for name in ("warc_record_id", "warc_filename", "warc_offset", "revisit_record_id"):
        if name in capture:
            setattr(article, name, capture[name])
    ext.item_scraped(article)


def real_pages(count: int) -> list[bytes]:
    """Real news pages' HTML (../shared/newsbench), or made-up ones where it is absent."""
    paths = sorted(NEWSBENCH.glob("*.html.gz"))[:count]
    if paths:
        return [gzip.decompress(p.read_bytes()) for p in paths]
    return [b"<html><p>" + os.urandom(3000).hex().encode() + b"</p></html>" for _ in range(count)]


def crawl_a_little(tmp_path: Path, **settings: object) -> tuple[WarcCaptureExtension, list]:
    """Pages, a repeated page (a revisit of a record maybe not written yet), a 404, a redirect,
    a gzip body, odd content types, and articles' text records; rotated into several files."""
    ext = make_extension(tmp_path, WARC_DEDUP=True, **settings)
    requests = []
    pages = real_pages(PAGES)
    for n, page in enumerate(pages):
        request = downloaded(ext, f"https://news.example.org/story/{n}?p=1", page,
                             **{"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
        scraped(ext, request, f"Story {n} " * 50)
        requests.append(request)
    again = downloaded(ext, "https://news.example.org/story/0?p=2", pages[0],
                       **{"Content-Type": "text/html"})  # fmt: skip
    scraped(ext, again, "Story 0 again")
    requests.append(again)
    requests.append(downloaded(ext, "https://news.example.org/gone", b"not here", status=404))
    requests.append(
        downloaded(ext, "https://news.example.org/old", b"", status=301, Location="/story/1")
    )
    requests.append(
        downloaded(ext, "https://news.example.org/feed.xml", gzip.compress(b"<rss/>" * 200),
                   **{"Content-Type": " application/rss+xml ;x=1", "Content-Encoding": "gzip"})
    )  # fmt: skip
    requests.append(downloaded(ext, "https://news.example.org/bare", b"<html>no type</html>"))
    ext.spider_closed()
    return ext, requests


def warc_records(warc: Path) -> list[tuple[int, object]]:
    with warc.open("rb") as handle:
        iterator = ArchiveIterator(handle)
        return [(iterator.get_record_offset(), record) for record in iterator]


def test_live_cdxj_is_what_cdxj_indexer_writes(tmp_path: Path) -> None:
    ext, _ = crawl_a_little(tmp_path, WARC_MAX_SIZE=300_000)
    run_dir = tmp_path / "news" / "run-1"
    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    assert len(warcs) >= 3  # rotated: lines of several files, sorted together
    # made as records were written, not read back from the files
    assert ext.writer.index.complete and ext.writer.index.files == {w.name for w in warcs}
    expected = tmp_path / "expected.cdxj"
    subprocess.run(
        [CDXJ_INDEXER, "--sort", "--dir-root", run_dir / "warc", "-o", expected, *warcs],
        check=True,
    )  # fmt: skip
    ours = (run_dir / "indexes" / "index.cdxj").read_bytes()
    assert ours == expected.read_bytes()
    assert b'"mime": "warc/revisit"' in ours and b'"status": "404"' in ours
    assert b'"mime": "application/json"' in ours  # the metadata records


def test_records_in_capture_order_and_pointers_exact(tmp_path: Path) -> None:
    ext, requests = crawl_a_little(tmp_path)  # more captures than the queue holds
    assert len(requests) + PAGES + 1 > QUEUE_JOBS
    (warc,) = (tmp_path / "news" / "run-1" / "warc").glob("*.warc.gz")
    warcio_check(warc)
    records = warc_records(warc)
    by_id = {r.rec_headers["WARC-Record-ID"]: (offset, r) for offset, r in records}
    captures = [r for _, r in records if r.rec_type in ("response", "revisit")]
    assert [r.rec_headers["WARC-Target-URI"] for r in captures] == [q.url for q in requests]
    warcinfo_id = records[0][1].rec_headers["WARC-Record-ID"]
    for (_, record), (_, after) in itertools.pairwise(records):
        if record.rec_type in ("response", "revisit"):  # its request right after it
            assert after.rec_type == "request"
            assert after.rec_headers["WARC-Concurrent-To"] == record.rec_headers["WARC-Record-ID"]
        if record.rec_type != "warcinfo":
            assert record.rec_headers["WARC-Warcinfo-ID"] == warcinfo_id
    for request in requests:
        pointer = request.meta[CAPTURE_META_KEY]
        offset, record = by_id[pointer["warc_record_id"]]
        assert (pointer["warc_filename"], pointer["warc_offset"]) == (warc.name, offset)
        assert pickle.loads(pickle.dumps(pointer)) == dict(pointer)  # a redirect's disk queue
    # the repeated page: a revisit, its pointer at the first capture (written just before)
    revisit_pointer = requests[PAGES].meta[CAPTURE_META_KEY]
    assert revisit_pointer["warc_record_id"] == requests[0].meta[CAPTURE_META_KEY]["warc_record_id"]
    _, revisit = by_id[revisit_pointer["revisit_record_id"]]
    assert revisit.rec_type == "revisit"
    assert revisit.rec_headers["WARC-Refers-To"] == revisit_pointer["warc_record_id"]
    assert ext.crawler.stats.get_value("archive/warc_records/revisit") == 1
    assert ext.crawler.stats.get_value("archive/warc_records/response") == len(requests) - 1
    assert ext.crawler.stats.get_value("archive/warc_files") == 1


def test_next_run_deduplicates_against_what_the_thread_wrote(tmp_path: Path) -> None:
    crawl_a_little(tmp_path)
    ext = make_extension(tmp_path, WARC_DEDUP=True, ARCHIVE_RUN_ID="run-2")
    ext.spider_opened()
    page = real_pages(1)[0]
    request = downloaded(ext, "https://news.example.org/story/0?p=3", page)
    ext.spider_closed()
    pointer = request.meta[CAPTURE_META_KEY]
    assert pointer["warc_run_id"] == "run-1"
    warc = tmp_path / "news" / "run-1" / "warc" / pointer["warc_filename"]
    record = next(r for o, r in warc_records(warc) if o == pointer["warc_offset"])
    assert record.rec_headers["WARC-Record-ID"] == pointer["warc_record_id"]
