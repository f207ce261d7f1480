"""`scrapy extract PATH_OR_URL... [--url URL]`: print extracted records as JSON Lines.

Extraction only: nothing is archived. Files are read from disk; URLs are fetched with the
project's Scrapy settings (robots.txt, user agent) but without the WARC and text writers.
WARC files (`*.warc.gz`, `*.warc`) give one record per HTML response in them, extracted from
the archived bytes with the record's own URL and WARC-Date (corpus.reextract).
"""

from __future__ import annotations

import json
import logging
import sys
from argparse import ArgumentParser, Namespace
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import scrapy
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.http import Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from twisted.python.failure import Failure
from w3lib.url import is_url

from crawler.commands.corpus import KeepLineBreaks, settings_refused

# corpus.warc_pages and crawler.extract.extraction (trafilatura) are imported when this command
# runs, not when Scrapy imports every command module at the start of any `scrapy ...`.


def record_for(html: str | bytes, url: str, min_chars: int, fetched_at: str) -> dict[str, Any]:
    """The record the crawler would store; ``fetched_at`` bounds the dates (none after it)."""
    from crawler.extract.extraction import extract

    result = extract(html, url, min_chars=min_chars, fetched_at=fetched_at)
    if result.article is None:
        return {"url": url, "error": f"no text extracted ({result.not_article})"}
    record = result.article.to_record()
    record["not_article"] = result.not_article  # null when the crawler would store it
    return record


class FetchSpider(scrapy.Spider):
    """Fetches the given URLs and keeps the responses for the command to extract."""

    name = "extract-fetch"
    custom_settings: ClassVar[dict[str, Any]] = {
        "EXTENSIONS": {"pipelines.warc.WarcCaptureExtension": None},
        "ITEM_PIPELINES": {},
        "AUTOTHROTTLE_ENABLED": False,
    }

    def __init__(self, urls: list[str], results: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls, self.results = urls, results

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(
                url,
                callback=self.keep,
                errback=self.failed,
                cb_kwargs={"asked": url},
                dont_filter=True,
            )

    def keep(self, response: Response, asked: str) -> None:
        from crawler.extract.extraction import utc_now_iso

        if isinstance(response, TextResponse):
            self.results[asked] = (response.text, response.url, utc_now_iso())
        else:
            self.results[asked] = f"not an HTML page ({response.headers.get('Content-Type')!r})"

    def failed(self, failure: Failure) -> None:
        asked = failure.request.cb_kwargs["asked"]  # type: ignore[attr-defined]
        self.results[asked] = f"fetch failed: {failure.getErrorMessage()}"


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "PATH_OR_URL_OR_WARC... [--url URL]"

    def short_desc(self) -> str:
        return "Print extracted article records (JSON Lines) for files or URLs, archive nothing"

    def long_desc(self) -> str:
        return """\
Print one JSON record per saved HTML file or URL (fetched, not archived), as the
crawler would store it, plus `not_article` (null when the crawler would store it).

A WARC file (*.warc.gz, *.warc) gives one record per HTML response record in it
(status 2xx, HTML by content type and content), extracted from the archived bytes
(Content-Encoding undone, charset as Scrapy reads it) with the record's target URI
as URL, its WARC-Date as fetched_at, and its warc_filename, warc_record_id and
warc_offset. A revisit record is extracted from its original when that is in one
of the WARC files given; otherwise it is skipped with a warning on stderr. Other
responses (robots.txt, feeds, sitemaps, images, errors, redirects) are skipped and
counted on stderr. A page with no text at all gives a record with only its URL,
WARC fields and not_article.

Examples:
  scrapy extract https://example.org/news/2026/11/24/story/
  scrapy extract page.html --url https://example.org/news/story/
  scrapy extract archive/news/RUN/warc/*.warc.gz > records.jsonl
"""

    def process_options(self, args: list[str], opts: Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        # The records on stdout are the output: Scrapy's start-up banner ("Scrapy 2.x started",
        # its versions) and a fetch's INFO lines would bury them on stderr. settings.py's
        # LOG_LEVEL is INFO, for crawls, and outranks a command's default_settings, so it is
        # raised here, to WARNING: warnings and errors still print, and -L / -s LOG_LEVEL
        # given on the command line still choose.
        # An unknown level is left alone, for the settings check to refuse (exit 2).
        chosen = (self.settings.getpriority("LOG_LEVEL") or 0) >= SETTINGS_PRIORITIES["cmdline"]
        value = str(self.settings.get("LOG_LEVEL")).upper()
        level = int(value) if value.isdigit() else logging.getLevelName(value)
        if not chosen and isinstance(level, int) and level < logging.WARNING:
            self.settings.set("LOG_LEVEL", "WARNING", priority="cmdline")

    def add_options(self, parser: ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = KeepLineBreaks
        parser.add_argument(
            "--url", help="the URL a single saved PATH was fetched from (for links, canonical)"
        )

    def run(self, args: list[str], opts: Namespace) -> None:
        from corpus.warc_pages import is_warc_path

        if settings_refused("extract", self.settings):
            self.exitcode = 2
            return
        if not args:
            raise UsageError("give at least one PATH or URL")
        urls = [a for a in args if is_url(a)]
        paths = [a for a in args if not is_url(a)]
        warcs = [Path(a) for a in paths if is_warc_path(a)]
        if opts.url and len(paths) != 1:
            raise UsageError("--url goes with exactly one PATH")
        if opts.url and warcs:
            raise UsageError("--url does not go with a WARC file (its records name their URLs)")
        assert self.settings is not None
        min_chars = self.settings.getint("NEWS_MIN_ARTICLE_CHARS", 400)
        fetched: dict[str, Any] = {}
        if urls:
            assert self.crawler_process is not None
            self.crawler_process.crawl(FetchSpider, urls=urls, results=fetched)
            self.crawler_process.start()
        for arg in args:
            if not is_url(arg) and is_warc_path(arg):
                self._warc_records(Path(arg), warcs, min_chars)
                continue
            record = self._record(arg, opts, fetched, min_chars)
            if "error" in record:
                self.exitcode = 1
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _warc_records(self, path: Path, warcs: list[Path], min_chars: int) -> None:
        """One line per HTML response of the WARC file; revisits resolved across `warcs`."""
        from corpus.warc_pages import WarcScan, extract_page, warc_pages

        assert self.settings is not None
        scan = WarcScan()
        max_size = self.settings.getint("DOWNLOAD_MAXSIZE")
        pages = 0
        for page in warc_pages([path], scan, max_size=max_size, originals=warcs):
            pages += 1
            extraction = extract_page(page, min_chars)
            if extraction.article is None:  # no text at all: where it is, and why
                record = {"url": page.response.url, **page.capture}
            else:
                record = extraction.article.to_record()
            record["not_article"] = extraction.not_article
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        for error in scan.errors:
            self.exitcode = 1
            sys.stdout.write(json.dumps({"url": str(path), "error": error}) + "\n")
        for revisit in scan.unresolved:
            print(f"{path}: revisit skipped, original not in the given WARC files: {revisit}",
                  file=sys.stderr)  # fmt: skip
        skipped = ", ".join(f"{why} {n}" for why, n in sorted(scan.skipped.items()))
        print(f"{path}: {pages} HTML response(s) extracted; skipped: {skipped or 'none'}",
              file=sys.stderr)  # fmt: skip

    def _record(
        self, arg: str, opts: Namespace, fetched: dict[str, Any], min_chars: int
    ) -> dict[str, Any]:
        if is_url(arg):
            got = fetched.get(arg, "fetch failed: no response (robots.txt or offsite?)")
            if isinstance(got, str):
                return {"url": arg, "error": got}
            text, final_url, fetched_at = got
            return record_for(text, final_url, min_chars, fetched_at)
        path = Path(arg)
        try:
            data = path.read_bytes()
            saved = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError as exc:
            return {"url": arg, "error": f"cannot read {arg}: {exc.strerror or exc}"}
        # a saved page was fetched no later than it was written: its dates cannot be later
        fetched_at = saved.strftime("%Y-%m-%dT%H:%M:%SZ")
        return record_for(data, opts.url or path.resolve().as_uri(), min_chars, fetched_at)
