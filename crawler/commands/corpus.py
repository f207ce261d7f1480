"""`scrapy corpus ...`: the researcher's side of an archive (local folder or s3://bucket/prefix).

    scrapy corpus ls [ARCHIVE] [--json]                runs with counts, sizes and dates
    scrapy corpus get [ARCHIVE] --dest DIR [filters]   verified, resumable download (--warc too)
    scrapy corpus export [ARCHIVE] --out DIR [filters] deduplicated jsonl/parquet + dataset card
    scrapy corpus report RUN [ARCHIVE] [--out FILE]    self-contained HTML report of one run
    scrapy corpus wacz RUN                             package a run as WACZ
    scrapy corpus reextract RUN [ARCHIVE]              new text version from the run's WARCs
    scrapy corpus push                                 upload what the S3 spool still holds

Filters: --run ID, --since/--until DAY (publication date), --domain, --language (repeatable).
ARCHIVE defaults to the ARCHIVE_URI setting. Installed, the command works outside the project
too (a `scrapy.commands` entry point), e.g. `scrapy corpus ls s3://bucket/news --anonymous`.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand

from crawler.corpus.catalog import format_runs, human_size, list_runs
from crawler.corpus.select import RecordFilter, parse_day
from crawler.corpus.source import CorpusError, LocalSource, open_source

logger = logging.getLogger(__name__)
DEFAULT_CACHE = "~/.cache/newsarchiver/corpus"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrapy corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def archive_args(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("archive", nargs="?", help="archive URI (default: ARCHIVE_URI)")
        sub.add_argument("--anonymous", action="store_true",
                         help="no AWS credentials: a public bucket")  # fmt: skip

    def filter_args(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--run", action="append", default=[], help="run id (repeatable)")
        sub.add_argument("--since", help="published on or after this day (YYYY-MM-DD)")
        sub.add_argument("--until", help="published on or before this day (YYYY-MM-DD)")
        sub.add_argument("--domain", action="append", default=[],
                         help="site, subdomains included (repeatable)")  # fmt: skip
        sub.add_argument("--language", action="append", default=[],
                         help="ISO 639-1 code (repeatable)")  # fmt: skip

    ls = actions.add_parser("ls", help="list runs")
    archive_args(ls)
    ls.add_argument("--spider", help="only this spider's runs")
    ls.add_argument("--json", action="store_true", help="one JSON object a run")

    get = actions.add_parser("get", help="download runs (verified, resumable)")
    archive_args(get)
    filter_args(get)
    get.add_argument("--dest", required=True, help="local folder mirroring the archive")
    get.add_argument("--warc", action="store_true", help="also the WARCs and indexes")
    get.add_argument("--wacz", action="store_true", help="also each run's WACZ package")
    get.add_argument("--limit-rate", type=float, default=0, help="bytes per second (0 = no limit)")
    get.add_argument("--no-progress", action="store_true", help="no progress bar")

    export = actions.add_parser("export", help="one deduplicated dataset")
    archive_args(export)
    filter_args(export)
    export.add_argument("--out", required=True, help="new folder for the dataset and its card")
    export.add_argument("--format", default="parquet", choices=("parquet", "jsonl"))
    export.add_argument("--keep-duplicates", action="store_true",
                        help="keep copies (marked with their cluster id)")  # fmt: skip
    export.add_argument("--threshold", type=float, help="near-duplicate threshold "
                        "(default: the CORPUS_DEDUP_THRESHOLD setting)")  # fmt: skip
    export.add_argument("--cache", default=DEFAULT_CACHE, help="download folder for S3 archives")

    report = actions.add_parser("report", help="HTML report of one run")
    report.add_argument("run", help="run id, or a run folder")
    archive_args(report)
    report.add_argument("--out", help="HTML file (default: report-<run>.html here)")
    report.add_argument("--cache", default=DEFAULT_CACHE, help="download folder for S3 archives")

    wacz = actions.add_parser("wacz", help="package a run as WACZ")
    wacz.add_argument("run", help="run id, or a run folder")
    wacz.add_argument("--spider", default="news")
    actions.add_parser("push", help="upload the S3 spool")

    reextract = actions.add_parser(
        "reextract", help="extract a run's WARCs again into a new text version (local only)"
    )
    reextract.add_argument("run", help="run id, or a run folder")
    reextract.add_argument("archive", nargs="?", help="local archive (default: ARCHIVE_URI)")
    reextract.add_argument("--spider", help="the run's spider, when several have that run id")
    reextract.add_argument("--processes", type=int, help="extraction worker processes "
                           "(default: the NEWS_EXTRACT_PROCESSES setting; 0 = none)")  # fmt: skip
    return parser


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_LEVEL": "WARNING"}  # it prints what matters

    def syntax(self) -> str:
        return "ls|get|export|report|wacz|push|reextract [ARCHIVE] [options]"

    def short_desc(self) -> str:
        return "List, download, export and report on archived runs"

    def long_desc(self) -> str:
        return __doc__ or ""

    def run(self, args: list[str], opts: Namespace) -> None:
        options = _parser().parse_args(args)
        try:
            self.exitcode = getattr(self, f"do_{options.action}")(options) or 0
        except CorpusError as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 2

    # --- helpers ------------------------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default) if self.settings is not None else default

    def source(self, options: Namespace) -> Any:
        uri = options.archive or self.setting("ARCHIVE_URI") or "archive"
        return open_source(uri, self.settings, anonymous=options.anonymous)

    def local_root(self, source: Any, options: Namespace, indexes: bool = False) -> Path:
        """Where the archive's text is readable: itself, or a verified copy in the cache."""
        if isinstance(source, LocalSource):
            return source.root
        from crawler.corpus.get import get  # boto3 downloads only when needed

        cache = Path(options.cache).expanduser() / source.uri.removeprefix("s3://")
        filt = RecordFilter(runs=set(getattr(options, "run", []) or []))
        result = get(source, cache, filt, with_indexes=indexes, progress=None)
        if not result.fetch.ok:
            raise CorpusError(f"download into {cache} failed: {result.fetch.refused}")
        return cache

    @staticmethod
    def record_filter(options: Namespace) -> RecordFilter:
        return RecordFilter(
            since=parse_day(options.since, "--since"),
            until=parse_day(options.until, "--until"),
            domains={d.lower().removeprefix("www.") for d in options.domain},
            languages={lang.lower() for lang in options.language},
            runs=set(options.run),
        )

    # --- actions ------------------------------------------------------------------------------
    def do_ls(self, options: Namespace) -> int:
        import json

        runs = list_runs(self.source(options), options.spider)
        if options.json:
            for run in runs:
                print(json.dumps(run.summary()))
        else:
            print(format_runs(runs))
        return 0

    def do_get(self, options: Namespace) -> int:
        from crawler.corpus.get import get

        result = get(
            self.source(options), Path(options.dest), self.record_filter(options),
            with_warc=options.warc, with_wacz=options.wacz, limit_rate=options.limit_rate,
            progress=False if options.no_progress else None,
        )  # fmt: skip
        fetched = result.fetch
        print(
            f"{len(result.runs)} run(s), {result.records} matching record(s); "
            f"{len(fetched.downloaded)} file(s) downloaded ({human_size(fetched.bytes)}), "
            f"{len(fetched.present)} already present, {len(fetched.resumed)} resumed"
        )
        if result.selection:
            print(f"matching records: {result.selection}")
        for prefix in result.skipped_runs:
            print(f"skipped {prefix}: no manifest (incomplete run)")
        for key, why in fetched.refused.items():
            print(f"REFUSED {key}: {why}", file=sys.stderr)
        return 1 if fetched.refused else 0

    def do_export(self, options: Namespace) -> int:
        from crawler.corpus.card import CARD_NAME, dataset_card
        from crawler.corpus.dedup import Deduplicator
        from crawler.corpus.export import export
        from crawler.corpus.get import select_runs

        source = self.source(options)
        filt = self.record_filter(options)
        runs, skipped = select_runs(source, filt)
        for prefix in skipped:
            print(f"skipped {prefix}: no manifest (incomplete run)", file=sys.stderr)
        if not runs:
            raise CorpusError(f"{source.uri}: no run matches")
        options.run = [r.run_id for r in runs]  # download only these
        root = self.local_root(source, options)
        dedup = Deduplicator.from_settings(self.settings)
        if options.threshold is not None:
            dedup = Deduplicator(options.threshold, dedup.num_perm, dedup.shingle_words)
        out = Path(options.out)
        summary = export(root, runs, filt, out, options.format, dedup, options.keep_duplicates)
        command = "scrapy corpus " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else [])
        card = dataset_card(summary, command, source.uri, {
            "threshold": dedup.threshold, "num_perm": dedup.num_perm,
            "shingle_words": dedup.shingle_words})  # fmt: skip
        (out / CARD_NAME).write_text(card, encoding="utf-8")
        print(f"{summary.exported} article(s) exported to {out} ({options.format}); "
              f"{summary.matched} matched, {summary.url_duplicates} re-fetches, "
              f"{summary.exact} exact and {summary.near} near duplicates "
              f"{'kept' if options.keep_duplicates else 'dropped'}")  # fmt: skip
        return 0

    def do_report(self, options: Namespace) -> int:
        from crawler.corpus.report import write_report

        run_dir = Path(options.run)
        if not run_dir.is_dir():
            source = self.source(options)
            matches = [r for r in list_runs(source) if r.run_id == options.run]
            if not matches:
                raise CorpusError(f"no run {options.run!r}: neither a folder nor in {source.uri}")
            options.run = [options.run]
            root = self.local_root(source, options, indexes=True)  # HTTP statuses: the CDXJ
            run_dir = root / matches[0].prefix
        out = Path(options.out or f"report-{run_dir.name}.html")
        print(write_report(run_dir.resolve(), out))
        return 0

    def do_wacz(self, options: Namespace) -> int:
        from pipelines.index import write_run_wacz
        from pipelines.storage import FSArchiveStore, get_store, safe_segment

        run_dir = Path(options.run)
        if not run_dir.is_dir():
            store = get_store(self.setting("ARCHIVE_URI", "archive"))
            if not isinstance(store, FSArchiveStore):
                raise CorpusError(f"{store.uri}: only local archives are supported here")
            run_dir = store.root / safe_segment(options.spider) / safe_segment(options.run)
            if not run_dir.is_dir():
                raise CorpusError(f"no run {options.run!r}: neither a folder nor {run_dir}")
        if not list((run_dir / "warc").glob("*.warc.gz")):
            raise CorpusError(f"{run_dir} holds no finished WARC file")
        print(write_run_wacz(run_dir.resolve()))
        return 0

    def do_push(self, options: Namespace) -> int:
        from pipelines.s3 import S3ArchiveStore
        from pipelines.storage import get_store

        store = get_store(self.setting("ARCHIVE_URI", "archive"), self.settings)
        if not isinstance(store, S3ArchiveStore):
            print(f"{store.uri} is a local archive: nothing to push")
            return 0
        done, failed = store.push()
        print(f"uploaded {len(done)} file(s) to {store.uri}; {len(failed)} left in the spool")
        for key in failed:
            print(f"  not uploaded: {key}")
        return 1 if failed else 0

    def do_reextract(self, options: Namespace) -> int:
        import os

        from crawler.corpus.reextract import reextract_run

        settings = self.settings
        assert settings is not None
        processes = options.processes
        if processes is None:
            configured = settings.get("NEWS_EXTRACT_PROCESSES")
            processes = (os.cpu_count() or 1) if configured is None else int(configured)
        result = reextract_run(
            options.archive or self.setting("ARCHIVE_URI") or "archive",
            options.run,
            spider=options.spider,
            min_chars=settings.getint("NEWS_MIN_ARTICLE_CHARS", 400),
            shard_records=settings.getint("TEXT_SHARD_MAX_RECORDS", 10_000),
            max_size=settings.getint("DOWNLOAD_MAXSIZE"),
            processes=processes,
        )
        for revisit in result.scan.unresolved:
            print(f"revisit skipped, original not found: {revisit}", file=sys.stderr)
        print(result.summary())
        return 0
