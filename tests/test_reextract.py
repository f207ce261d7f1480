"""Re-extraction from the archive (#13): `scrapy extract FILE.warc.gz` and
`scrapy corpus reextract RUN ARCHIVE`, on a real crawl of the demo site and on a WARC file
written with warcio holding Brotli, deflate, legacy charsets, a revisit, an image and a 404."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus.catalog import current_text_folder, plural
from crawler.demo.server import DemoServer
from pipelines.text import read_text_records
from tests.conftest import FAST, scrapy, text_records

RUN = "reextract-run"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def records_of(run_dir: Path, folder: str) -> list[dict[str, Any]]:
    return list(read_text_records(run_dir / folder))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: DemoServer) -> Path:
    """A finished crawl of the demo site (gzip responses, as the server sends them)."""
    archive = tmp_path_factory.mktemp("reextract") / "archive"
    result = scrapy(
        "crawl", "news", "-a", f"urls={demo_server.base_url}/",
        "-s", f"ARCHIVE_URI={archive}", "-s", f"ARCHIVE_RUN_ID={RUN}", "-s", "DEPTH_LIMIT=3",
        *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return archive


@pytest.fixture
def archive(crawled: Path, tmp_path: Path) -> Path:
    """A private copy: reextract changes the run's manifest."""
    copy = tmp_path / "archive"
    shutil.copytree(crawled, copy)
    return copy


def html_responses(warc: Path) -> dict[str, str]:
    """WARC-Record-ID -> URL of every 200 text/html response or revisit in the file."""
    found = {}
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            http = record.http_headers
            if record.rec_type in ("response", "revisit") and http is not None:
                ctype = http.get_header("Content-Type") or ""
                if http.get_statuscode() == "200" and ctype.startswith("text/html"):
                    found[record.rec_headers.get_header("WARC-Record-ID")] = (
                        record.rec_headers.get_header("WARC-Target-URI")
                    )
    return found


def test_extract_warc_gives_the_crawls_records(crawled: Path) -> None:
    run_dir = crawled / "news" / RUN
    (warc,) = sorted((run_dir / "warc").glob("*.warc.gz"))
    stored = text_records(run_dir)
    assert len(stored) >= 13

    result = scrapy("extract", str(warc), "-s", "LOG_LEVEL=WARNING")

    assert result.returncode == 0, result.stderr[-3000:]
    lines = jsonl(result.stdout)
    expected = html_responses(warc)
    assert len(lines) == len(expected)  # one per HTML page response, nothing else
    assert {line["warc_record_id"]: line["url"] for line in lines} == expected
    by_id = {line["warc_record_id"]: line for line in lines}
    for record in stored:  # same extractor, same bytes: the crawl's record exactly
        line = dict(by_id[record["warc_record_id"]])
        assert line.pop("not_article") is None
        assert line == record
        with warc.open("rb") as handle:  # the offset is that record's
            handle.seek(line["warc_offset"])
            at = next(iter(ArchiveIterator(handle)))
            assert at.rec_headers.get_header("WARC-Record-ID") == line["warc_record_id"]
    not_stored = [line for line in lines if line["not_article"]]
    assert len(not_stored) == len(lines) - len(stored) > 0  # the home, section, tag pages
    assert f"{warc}: {len(lines)} HTML response(s) extracted" in result.stderr


def test_reextract_writes_a_new_version_and_keeps_the_old(archive: Path, tmp_path: Path) -> None:
    run_dir = archive / "news" / RUN
    old_shards = sorted((run_dir / "text").glob("*.jsonl.gz"))
    old_bytes = {p: p.read_bytes() for p in old_shards}
    old_records = records_of(run_dir, "text")

    result = scrapy("corpus", "reextract", RUN, str(archive), "--processes", "0")

    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = result.stdout.splitlines()
    n = len(old_records)
    assert "text v2 written to text-v2/" in summary
    assert f"{n} records (v1: {n})" in summary
    assert {p: p.read_bytes() for p in old_shards} == old_bytes  # v1 untouched
    new_records = records_of(run_dir, "text-v2")
    key = lambda r: r["warc_record_id"]  # noqa: E731
    assert sorted(new_records, key=key) == sorted(old_records, key=key)  # same extractor

    manifest = json.loads((run_dir / "manifest.json").read_text())
    listed = {f["key"]: f for f in manifest["files"]}
    on_disk = [p for p in run_dir.rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert {p.relative_to(archive).as_posix() for p in on_disk} == set(listed)
    for path in on_disk:
        entry = listed[path.relative_to(archive).as_posix()]
        assert entry["sha256"] == sha256(path) and entry["size"] == path.stat().st_size
    assert any(k.startswith(f"news/{RUN}/text/") for k in listed)
    assert any(k.startswith(f"news/{RUN}/text-v2/") for k in listed)
    assert manifest["text_version"] == 2 and current_text_folder(manifest) == "text-v2"
    v1, v2 = manifest["text_versions"]
    assert (v1["folder"], v1["records"], v1["created_by"]) == ("text", n, "crawl")
    assert (v2["folder"], v2["records"]) == ("text-v2", n)
    assert v2["extractor"]["trafilatura"] and "commit" in v2["extractor"]
    assert v2["settings"]["NEWS_MIN_ARTICLE_CHARS"] == 400

    # a stricter extractor setting: it really extracts again
    strict = scrapy("corpus", "reextract", RUN, str(archive), "--processes", "1",
                    "-s", "NEWS_MIN_ARTICLE_CHARS=20000")  # fmt: skip
    assert strict.returncode == 0, strict.stderr[-3000:]
    v3_records = records_of(run_dir, "text-v3")
    articles = [r for r in v3_records if r["page_type"] == "article"]
    assert len(v3_records) < n  # stubs under a quarter of the minimum are not stored
    records, kept = len(v3_records), len(articles)
    assert f"{records} {plural(records, 'record')} (v2: {n})" in strict.stdout
    assert f"{kept} {plural(kept, 'article')} (v2: {n})" in strict.stdout
    assert {p: p.read_bytes() for p in old_shards} == old_bytes
    assert sorted(records_of(run_dir, "text-v2"), key=key) == sorted(old_records, key=key)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["text_version"] == 3 and current_text_folder(manifest) == "text-v3"
    assert [v["records"] for v in manifest["text_versions"]] == [n, n, len(v3_records)]
    for entry in manifest["files"]:
        assert entry["sha256"] == sha256(archive / entry["key"])
    # the corpus tools read the current version: ls counts it, export exports it
    listing = scrapy("corpus", "ls", str(archive))
    (row,) = [line for line in listing.stdout.splitlines() if line.startswith(RUN)]
    assert str(len(v3_records)) in row.split() and str(n) not in row.split()
    out = tmp_path / "export"
    exported = scrapy("corpus", "export", str(archive), "--format", "jsonl", "--out", str(out),
                      "--keep-duplicates")  # fmt: skip
    assert exported.returncode == 0, exported.stderr[-2000:]
    with gzip.open(out / "data" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in v3_records)


def test_reextract_bad_input_one_line(archive: Path, tmp_path: Path) -> None:
    unknown = scrapy("corpus", "reextract", "20990101T000000Z-nosuch", str(archive))
    assert unknown.returncode != 0
    assert unknown.stderr.strip().count("\n") == 0
    assert "20990101T000000Z-nosuch" in unknown.stderr

    s3 = scrapy("corpus", "reextract", RUN, "s3://news-archive/crawls")
    assert s3.returncode != 0 and s3.stderr.strip().count("\n") == 0
    assert "local archives only" in s3.stderr

    for warc in (archive / "news" / RUN / "warc").iterdir():
        warc.unlink()
    no_warc = scrapy("corpus", "reextract", RUN, str(archive))
    assert no_warc.returncode != 0 and no_warc.stderr.strip().count("\n") == 0
    assert "no WARC file" in no_warc.stderr
    assert not list((archive / "news" / RUN).glob("text-v*"))


def test_reextract_follows_revisits_into_the_earlier_run(
    archive: Path, demo_server: DemoServer
) -> None:
    """A second run that re-reads everything stores revisits; their payloads are in run 1."""
    second = scrapy(
        "crawl", "news", "-a", f"urls={demo_server.base_url}/", "-a", "refetch=all",
        "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=second-run",
        "-s", "DEPTH_LIMIT=3", *FAST,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    run_dir = archive / "news" / "second-run"
    crawled = records_of(run_dir, "text")
    assert crawled and all(r["revisit_record_id"] for r in crawled)
    assert {r["warc_run_id"] for r in crawled} == {RUN}

    result = scrapy("corpus", "reextract", "second-run", str(archive), "--processes", "0")

    assert result.returncode == 0, result.stderr[-3000:]
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(records_of(run_dir, "text-v2"), key=key) == sorted(crawled, key=key)


# --- a hand-made WARC: payload codings, charsets, revisit, non-HTML ---------------------------

PARAGRAPHS = (
    "The harbour council met on Tuesday evening to discuss the future of the old ferry pier, "
    "which has been closed to the public since a storm damaged its timber supports last winter.",
    "Engineers told councillors that repairing the structure would cost about twice as much as "
    "had been estimated in the spring, because rot had spread further than the first survey found.",
    "Several residents spoke in favour of keeping the pier, saying it drew visitors to the cafes "
    "and shops along the front during the summer months and gave anglers a safe place to fish.",
    "The council agreed to seek a grant from the regional heritage fund and to decide in March "
    "whether to rebuild the pier in its original form or replace it with a shorter concrete one.",
)


def page(title: str, body: str, charset_meta: str = "") -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    paragraphs = f"<p>{body}</p>" + "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    return (
        f"<!DOCTYPE html><html lang='en'><head>{meta}<title>{title}</title>"
        '<meta property="article:published_time" content="2026-11-20T08:00:00Z"></head>'
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def response_record(writer: WARCWriter, url: str, status: str, headers: list[tuple[str, str]],
                    body: bytes, date: str) -> Any:  # fmt: skip
    http = StatusAndHeaders(status, [*headers, ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")  # fmt: skip
    return writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                     http_headers=http,
                                     warc_headers_dict={"WARC-Date": date})  # fmt: skip


def test_extract_warc_decodes_payloads_and_resolves_revisits(tmp_path: Path) -> None:
    warc = tmp_path / "handmade.warc.gz"
    cp1252 = page("Caf\u00e9 pier r\u00e9sum\u00e9", "Caf\u00e9 owners \u2013 na\u00efve").encode(
        "cp1252"
    )
    latin2 = page("Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105", "\u0141\u00f3d\u017a",
                  charset_meta="iso-8859-2").encode("iso-8859-2")  # fmt: skip
    with warc.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="1.1")
        br = response_record(
            writer, "https://news.example.org/cafe", "200 OK",
            [("Content-Type", "text/html; charset=windows-1252"), ("Content-Encoding", "br")],
            brotli.compress(cp1252), "2026-11-25T10:00:00.123456Z",
        )  # fmt: skip
        deflated = response_record(
            writer, "https://news.example.org/lodz", "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "deflate")],
            zlib.compress(latin2), "2026-11-25T10:00:01Z",
        )  # fmt: skip
        image = response_record(writer, "https://news.example.org/a.png", "200 OK",
                                [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n" * 8,
                                "2026-11-25T10:00:02Z")  # fmt: skip
        missing = response_record(writer, "https://news.example.org/gone", "404 Not Found",
                                  [("Content-Type", "text/html")], page("Gone", "x").encode(),
                                  "2026-11-25T10:00:03Z")  # fmt: skip
        for record in (br, deflated, image, missing):
            writer.write_record(record)
        br_id = br.rec_headers.get_header("WARC-Record-ID")
        digest = br.rec_headers.get_header("WARC-Payload-Digest")
        revisit = writer.create_revisit_record(
            "https://news.example.org/cafe?again=1", digest,
            "https://news.example.org/cafe", "2026-11-25T10:00:00.123456Z",
            http_headers=br.http_headers, warc_headers_dict={"WARC-Date": "2026-11-26T09:30:00Z"},
        )  # fmt: skip
        revisit.rec_headers.add_header("WARC-Refers-To", br_id)
        writer.write_record(revisit)
    offsets = {}
    with warc.open("rb") as handle:
        iterator = ArchiveIterator(handle)
        for record in iterator:
            offsets[record.rec_headers.get_header("WARC-Record-ID")] = iterator.get_record_offset()
    bogus = tmp_path / "bogus.warc.gz"
    bogus.write_bytes(gzip.compress(b"this is not a WARC file\r\n\r\n"))

    result = scrapy("extract", str(warc), str(bogus), "-s", "LOG_LEVEL=WARNING")

    lines = jsonl(result.stdout)
    assert len(lines) == 4, result.stdout + result.stderr
    cafe, lodz, again, broken = lines
    assert cafe["url"] == "https://news.example.org/cafe" and cafe["not_article"] is None
    assert cafe["page_type"] == lodz["page_type"] == "article"
    assert "Caf\u00e9 owners \u2013 na\u00efve" in cafe["text"]  # Brotli, then cp1252
    assert cafe["title"] == "Caf\u00e9 pier r\u00e9sum\u00e9"
    assert (cafe["fetched_at"], cafe["status"]) == ("2026-11-25T10:00:00Z", 200)
    assert (cafe["warc_filename"], cafe["warc_record_id"]) == (warc.name, br_id)
    assert cafe["warc_offset"] == offsets[br_id] and cafe["revisit_record_id"] is None
    assert "\u0141\u00f3d\u017a" in lodz["text"]  # deflate, then the page's own <meta> charset
    assert lodz["warc_offset"] == offsets[deflated.rec_headers.get_header("WARC-Record-ID")]
    # the revisit: its own URL and date, the original's payload and location
    assert again["url"] == "https://news.example.org/cafe?again=1"
    assert again["fetched_at"] == "2026-11-26T09:30:00Z" and again["text"] == cafe["text"]
    assert (again["warc_record_id"], again["warc_offset"]) == (br_id, offsets[br_id])
    assert again["revisit_record_id"] == revisit.rec_headers.get_header("WARC-Record-ID")
    assert again["id"] != cafe["id"]
    assert broken["url"] == str(bogus) and "not a WARC file" in broken["error"]
    assert result.returncode == 1
    assert "not_html 1" in result.stderr and "status_404 1" in result.stderr


def test_extract_warc_usage(tmp_path: Path) -> None:
    result = scrapy("extract", str(tmp_path / "a.warc.gz"), "--url", "https://example.org/")
    assert result.returncode == 2
    assert "--url does not go with a WARC file" in result.stderr
