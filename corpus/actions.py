"""What each `scrapy corpus` action does, given its parsed options and Scrapy's settings.

Every setting is read with the default that goes with the code using it, so the actions behave
the same outside the project folder, where no settings.py is loaded.
"""

from __future__ import annotations

import json
import os
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

from corpus.catalog import (
    RunEntry,
    distinct_articles,
    format_runs,
    human_size,
    list_runs,
    plural,
)
from corpus.select import RecordFilter, check_days, parse_day, parse_language
from corpus.source import ArchiveSource, CorpusError, LocalSource, open_source

DEFAULT_ARCHIVE_URI = "archive"  # settings.py's ARCHIVE_URI


def setting(settings: Any, name: str, default: Any = None) -> Any:
    value = settings.get(name) if settings is not None else None
    return default if value is None else value


def archive_uri(options: Namespace, settings: Any) -> str:
    return getattr(options, "archive", None) or setting(
        settings, "ARCHIVE_URI", DEFAULT_ARCHIVE_URI
    )


def source_of(options: Namespace, settings: Any) -> ArchiveSource:
    # the actions that write into a local run have no --anonymous
    anonymous = getattr(options, "anonymous", False)
    return open_source(archive_uri(options, settings), settings, anonymous=anonymous)


def local_root(
    source: ArchiveSource, options: Namespace, runs: list[str], indexes: bool = False
) -> Path:
    """Where the archive's files are readable: itself, or a verified copy in the cache."""
    if isinstance(source, LocalSource):
        return source.root
    from corpus.get import get  # boto3 downloads only when needed

    cache = Path(options.cache).expanduser() / source.uri.removeprefix("s3://")
    result = get(source, cache, RecordFilter(runs=set(runs)), with_indexes=indexes, progress=None)
    if not result.fetch.ok:
        raise CorpusError(f"download into {cache} failed: {result.fetch.refused}")
    return cache


def record_filter(options: Namespace) -> RecordFilter:
    """The filters, refused (exit 2, one line saying why) when they could match nothing."""
    since, until = parse_day(options.since, "--since"), parse_day(options.until, "--until")
    check_days(since, until)
    return RecordFilter(
        since=since,
        until=until,
        domains={d.lower().removeprefix("www.") for d in options.domain},
        languages={parse_language(lang) for lang in options.language},
        runs=set(options.run),
    )


def find_run(source: ArchiveSource, run_id: str, spider: str | None = None) -> RunEntry:
    matches = [r for r in list_runs(source, spider) if r.run_id == run_id]
    if not matches:
        raise CorpusError(f"no run {run_id!r}: neither a folder nor in {source.uri}")
    if len(matches) > 1:
        spiders = ", ".join(r.spider for r in matches)
        raise CorpusError(f"run {run_id!r} exists for spiders {spiders}: give --spider")
    return matches[0]


def do_ls(options: Namespace, settings: Any) -> int:
    source = source_of(options, settings)
    runs = list_runs(source, options.spider)
    if options.json:
        for run in runs:
            print(json.dumps(run.summary()))
    else:
        print(format_runs(runs, distinct_articles(source, runs)))
    return 0


def do_get(options: Namespace, settings: Any) -> int:
    from corpus.get import get

    result = get(
        source_of(options, settings),
        Path(options.dest),
        record_filter(options),
        with_warc=options.warc,
        with_wacz=options.wacz,
        limit_rate=options.limit_rate,
        progress=False if options.no_progress else None,
    )
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
    for prefix in result.without_wacz:  # asked for, and not there: not a silent success
        print(
            f"no WACZ in {prefix}: its manifest lists none; make one with "
            f"`scrapy corpus wacz {prefix.rsplit('/', 1)[-1]} ARCHIVE` on a local copy",
            file=sys.stderr,
        )
    return 1 if fetched.refused or result.without_wacz else 0


def do_export(options: Namespace, settings: Any) -> int:
    from corpus.card import CARD_NAME, dataset_card
    from corpus.citation import Credits
    from corpus.dedup import Deduplicator
    from corpus.export import export
    from corpus.get import SELECTION_NAME, read_selection, select_runs

    source = source_of(options, settings)
    filt = record_filter(options)
    if isinstance(source, LocalSource) and not options.ignore_selection:
        filt.selected = read_selection(source.root)  # a filtered mirror: its records only
    runs, skipped = select_runs(source, filt)
    for prefix in skipped:
        print(f"skipped {prefix}: no manifest (incomplete run)", file=sys.stderr)
    if not runs:
        raise CorpusError(f"{source.uri}: no run matches")
    root = local_root(source, options, [r.run_id for r in runs])  # download only these
    dedup = Deduplicator.from_settings(settings)
    if options.threshold is not None:
        dedup = Deduplicator(options.threshold, dedup.num_perm, dedup.shingle_words)
    out = Path(options.out)
    summary = export(root, runs, filt, out, options.format, dedup, options.keep_duplicates)
    if filt.selected is not None:
        summary.selection = (SELECTION_NAME, len(filt.selected))
    card = dataset_card(
        summary,
        options.command_line,
        source.uri,
        {
            "threshold": dedup.threshold,
            "num_perm": dedup.num_perm,
            "shingle_words": dedup.shingle_words,
        },
        skipped,
        Credits(options.title, options.author),
    )
    (out / CARD_NAME).write_text(card, encoding="utf-8")
    refetches = plural(summary.url_duplicates, "re-fetch", "re-fetches")
    print(
        f"{summary.exported} article(s) exported to {out} ({options.format}); "
        f"{summary.matched} matched, {summary.url_duplicates} {refetches}, "
        f"{summary.exact} exact and {summary.near} near "
        f"{plural(summary.exact + summary.near, 'duplicate')} "
        f"{'kept' if options.keep_duplicates else 'dropped'}"
    )
    if summary.selection:
        print(
            f"only the {summary.selection[1]} record(s) listed in {source.uri}/{SELECTION_NAME}"
            " were read (those `corpus get` matched; --ignore-selection reads them all)"
        )
    return 0


def do_report(options: Namespace, settings: Any) -> int:
    from corpus.report import write_report

    run_dir = Path(options.run)
    if not run_dir.is_dir():
        source = source_of(options, settings)
        run = find_run(source, options.run, options.spider)
        root = local_root(source, options, [run.run_id], indexes=True)  # HTTP statuses: CDXJ
        run_dir = root / run.prefix
    out = Path(options.out or f"report-{run_dir.name}.html")
    print(write_report(run_dir.resolve(), out))
    return 0


def do_wacz(options: Namespace, settings: Any) -> int:
    from corpus.runfiles import list_in_manifest, run_lock
    from pipelines.index import write_run_wacz

    run_dir = Path(options.run)
    if not run_dir.is_dir():
        source = source_of(options, settings)
        if not isinstance(source, LocalSource):
            raise CorpusError(
                f"{source.uri}: wacz packages local archives only; run `scrapy corpus get "
                f"{source.uri} --run {options.run} --warc --dest DIR` first, then "
                f"`scrapy corpus wacz {options.run} DIR`"
            )
        run_dir = source.root / find_run(source, options.run, options.spider).prefix
    if not list((run_dir / "warc").glob("*.warc.gz")):
        raise CorpusError(f"{run_dir} holds no finished WARC file")
    run_dir = run_dir.resolve()
    with run_lock(run_dir, run_dir.name):  # a reextract meanwhile rewrites the manifest too
        wacz = write_run_wacz(run_dir)
        listed = list_in_manifest(run_dir, [wacz])
    print(wacz)
    if not listed:
        print(f"{run_dir} has no manifest.json: the WACZ is not listed in one", file=sys.stderr)
    return 0


def do_push(options: Namespace, settings: Any) -> int:
    from pipelines.repair import finish_spooled_runs
    from pipelines.storage import get_store
    from pipelines.storage.s3 import S3ArchiveStore

    store = get_store(setting(settings, "ARCHIVE_URI", DEFAULT_ARCHIVE_URI), settings)
    if not isinstance(store, S3ArchiveStore):
        print(f"{store.uri} is a local archive: nothing to push")
        return 0
    with store.push_lock():  # a second `corpus push` waits, then finds what is left
        # a killed run goes up with its index and a "killed" manifest: corpus ls/export read it
        for prefix in finish_spooled_runs(store):
            print(f"finished killed run {prefix}: index and manifest written")
        done, failed = store.push()
    print(f"uploaded {len(done)} file(s) to {store.uri}; {len(failed)} left in the spool")
    for key in failed:
        print(f"  not uploaded: {key}")
    return 1 if failed else 0


def do_reextract(options: Namespace, settings: Any) -> int:
    from corpus.reextract import reextract_run

    processes = options.processes
    if processes is None:
        configured = setting(settings, "NEWS_EXTRACT_PROCESSES")
        processes = (os.cpu_count() or 1) if configured is None else int(configured)
    result = reextract_run(
        archive_uri(options, settings),
        options.run,
        spider=options.spider,
        min_chars=int(setting(settings, "NEWS_MIN_ARTICLE_CHARS", 400)),
        shard_records=int(setting(settings, "TEXT_SHARD_MAX_RECORDS", 10_000)),
        max_size=int(setting(settings, "DOWNLOAD_MAXSIZE", 0)),
        processes=processes,
    )
    for revisit in result.scan.unresolved:
        print(f"revisit skipped, original not found: {revisit}", file=sys.stderr)
    print(result.summary())
    return 0
