"""The `scrapy corpus` command line: one argparse subcommand per action, each with its own
`--help` (options and an example); crawler/commands/corpus.py only hands Scrapy's settings in."""

from __future__ import annotations

import argparse
import contextlib
import sys
from argparse import Namespace
from typing import Any

from corpus.source import CorpusError

DESCRIPTION = """\
The researcher's side of an archive (a local folder or s3://bucket/prefix).

  scrapy corpus ls [ARCHIVE]                          runs: state, articles, size, dates
  scrapy corpus get [ARCHIVE] --dest DIR [filters]    verified, resumable download
  scrapy corpus export [ARCHIVE] --out DIR [filters]  deduplicated Parquet/JSONL + dataset card
  scrapy corpus report RUN [ARCHIVE] [--out FILE]     self-contained HTML report of one run
  scrapy corpus wacz RUN [ARCHIVE]                    package a run as WACZ
  scrapy corpus reextract RUN [ARCHIVE]               new text version from the run's WARCs
  scrapy corpus push                                  upload what the S3 spool still holds

Filters: --run ID, --since/--until DAY (the publication's local day), --domain, --language
(all repeatable but the days). ARCHIVE defaults to the ARCHIVE_URI setting ("archive").
The command works the same outside the project folder once the package is installed.
`scrapy corpus ACTION --help` shows an action's options and an example.
"""

# Scrapy's own options are read before the action's; they stay valid after it too.
GLOBAL_OPTIONS = """\
Scrapy options, before or after the action: -s NAME=VALUE (a setting, e.g.
-s ARCHIVE_URI=s3://bucket/news), -L LEVEL, --logfile FILE. AWS credentials and
AWS_ENDPOINT_URL come from the environment (boto3's standard chain)."""
# the same for the actions that write into a local run (wacz, reextract): no S3 to mention
LOCAL_OPTIONS = """\
Scrapy options, before or after the action: -s NAME=VALUE (a setting, e.g.
-s ARCHIVE_URI=archive), -L LEVEL, --logfile FILE."""

DEFAULT_CACHE = "~/.cache/newsarchiver/corpus"
ACTIONS = ("ls", "get", "export", "report", "wacz", "push", "reextract")


def _action(
    actions: Any, name: str, summary: str, example: str, description: str = "", local: bool = False
) -> argparse.ArgumentParser:
    return actions.add_parser(
        name,
        help=summary,
        description=f"{summary}.\n\n{description}".rstrip(),
        epilog=f"example:\n{example}\n\n{LOCAL_OPTIONS if local else GLOBAL_OPTIONS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _archive_args(sub: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        sub.add_argument(
            "archive",
            nargs="?",
            metavar="ARCHIVE",
            help="local folder or s3://bucket/prefix (default: ARCHIVE_URI)",
        )
    sub.add_argument("--anonymous", action="store_true", help="no AWS credentials: a public bucket")


def _run_args(sub: argparse.ArgumentParser, local_only: bool = False) -> None:
    """RUN, ARCHIVE and --spider of the actions on one run; `local_only` for those that write
    into the run (no S3 archive, so no --anonymous either)."""
    sub.add_argument("run", metavar="RUN", help="run id, or a run folder")
    if local_only:
        sub.add_argument(
            "archive", nargs="?", metavar="ARCHIVE", help="local archive (default: ARCHIVE_URI)"
        )
    else:
        _archive_args(sub)
    sub.add_argument("--spider", help="the run's spider, when several have that run id")


def _filter_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--run", action="append", default=[], metavar="ID", help="run id (repeatable)")
    sub.add_argument(
        "--since", metavar="DAY", help="published on or after this local day (YYYY-MM-DD)"
    )
    sub.add_argument(
        "--until", metavar="DAY", help="published on or before this local day (YYYY-MM-DD)"
    )
    sub.add_argument(
        "--domain", action="append", default=[], help="site, subdomains included (repeatable)"
    )
    sub.add_argument(
        "--language",
        action="append",
        default=[],
        metavar="CODE",
        help="ISO 639-1 code (repeatable)",
    )


def _cache_arg(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--cache",
        default=DEFAULT_CACHE,
        metavar="DIR",
        help=f"download folder for S3 archives (default: {DEFAULT_CACHE})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrapy corpus",
        description=DESCRIPTION,
        epilog=GLOBAL_OPTIONS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = _action(
        actions,
        "ls",
        "List the runs of an archive",
        "  scrapy corpus ls s3://news-archive/crawls --spider news",
        "One line a run: state, start, duration, articles (NEW: those no earlier run\n"
        "had), files, size (WARC, text and indexes; WACZ packages apart), publication\n"
        "days, top languages and domains; CRAWL and WORKER for the runs of a\n"
        "distributed crawl. A run without manifest shows as incomplete. The total\n"
        "counts an article once however many runs fetched it (one a canonical URL,\n"
        "as export does), reading the runs' text shards.",
    )
    _archive_args(ls)
    ls.add_argument("--spider", help="only this spider's runs")
    ls.add_argument("--json", action="store_true", help="one JSON object a run")

    get = _action(
        actions,
        "get",
        "Download runs into a local mirror (verified, resumable)",
        "  scrapy corpus get s3://news-archive/crawls --dest mirror/ "
        "--since 2026-11-01 --language de",
        "The mirror keeps the archive's keys, so it is an archive the other actions\n"
        "read. With record filters the matching records also go to\n"
        "DEST/selection.jsonl.gz. Every file is checked against its sha256.",
    )
    _archive_args(get)
    _filter_args(get)
    get.add_argument(
        "--dest", required=True, metavar="DIR", help="local folder mirroring the archive"
    )
    get.add_argument("--warc", action="store_true", help="also the WARCs and indexes")
    get.add_argument("--wacz", action="store_true", help="also each run's WACZ package")
    get.add_argument(
        "--limit-rate",
        type=float,
        default=0,
        metavar="BYTES",
        help="bytes per second (default 0: no limit)",
    )
    get.add_argument("--no-progress", action="store_true", help="no progress bar")

    export = _action(
        actions,
        "export",
        "Export one deduplicated dataset with its card",
        "  scrapy corpus export mirror/ --out dataset/ --since 2026-11-01 --format parquet",
        "Writes OUT/data/ (Parquet partitioned by pub_date, or JSON Lines) and\n"
        "OUT/README.md, the dataset card. One row an article: re-fetches and\n"
        "syndicated copies are dropped unless --keep-duplicates. A mirror that\n"
        "`get` made with record filters is exported as selected: only the records\n"
        "its selection.jsonl.gz lists (and the filters given here).",
    )
    _archive_args(export)
    _filter_args(export)
    export.add_argument(
        "--out", required=True, metavar="DIR", help="new folder for the dataset and its card"
    )
    export.add_argument(
        "--format", default="parquet", choices=("parquet", "jsonl"), help="default: parquet"
    )
    export.add_argument(
        "--keep-duplicates", action="store_true", help="keep copies (marked with their cluster id)"
    )
    export.add_argument(
        "--ignore-selection",
        action="store_true",
        help="read every record of a mirror, not only those its selection.jsonl.gz lists "
        "(written by `get` with record filters)",
    )
    export.add_argument(
        "--threshold",
        type=float,
        help="near-duplicate threshold in (0, 1] "
        "(default: the CORPUS_DEDUP_THRESHOLD setting, 0.6)",
    )
    export.add_argument(
        "--title",
        help="the dataset's title in its card and CITATION.cff (default: News articles "
        "crawled by newsarchiver, published FIRST to LAST day)",
    )
    export.add_argument(
        "--author",
        action="append",
        default=[],
        metavar="NAME",
        help='an author for CITATION.cff (repeatable): "Family, Given" for a person, '
        "a team's or an institution's name as it is (default: none; the citation says "
        "anonymous and the card asks for one)",
    )
    _cache_arg(export)

    report = _action(
        actions,
        "report",
        "Write a self-contained HTML report of one run",
        "  scrapy corpus report 20261125T061126Z-d818a3 mirror/ --out report.html",
    )
    _run_args(report)
    report.add_argument("--out", metavar="FILE", help="HTML file (default: report-RUN.html here)")
    _cache_arg(report)

    wacz = _action(
        actions,
        "wacz",
        "Package a run as WACZ (written beside the run)",
        "  scrapy corpus wacz 20261125T061126Z-d818a3 archive/",
        "Writes RUN/RUN_ID.wacz and lists it in the run's manifest.json (size,\n"
        "sha256), so `ls` counts it and `get --wacz` downloads it. Local archives\n"
        "only: `scrapy corpus get ARCHIVE --run RUN --warc --dest DIR` first, then\n"
        "`scrapy corpus wacz RUN DIR`.",
        local=True,
    )
    _run_args(wacz, local_only=True)

    _action(
        actions,
        "push",
        "Upload what the S3 spool still holds (manifests last)",
        "  scrapy corpus push -s ARCHIVE_URI=s3://news-archive/crawls",
    )

    reextract = _action(
        actions,
        "reextract",
        "Extract a run's WARCs again into a new text version",
        "  scrapy corpus reextract 20261125T061126Z-d818a3 archive/",
        "Local archives only. The new version becomes the run's current text\n"
        "(manifest text_version); the earlier versions are kept.",
        local=True,
    )
    _run_args(reextract, local_only=True)
    reextract.add_argument(
        "--processes",
        type=int,
        help="extraction worker processes (default: the NEWS_EXTRACT_PROCESSES setting; 0 = none)",
    )
    return parser


def print_help(argv: list[str]) -> None:
    """`scrapy corpus [ACTION] --help`: the action's own help when one is named."""
    action = next((arg for arg in argv if arg in ACTIONS), None)
    with contextlib.suppress(SystemExit):  # argparse exits once it printed the help
        build_parser().parse_args([action, "--help"] if action else ["--help"])


def main(argv: list[str], settings: Any, command: str = "") -> int:
    """Run one action; `command` is the command line as typed, for the dataset card."""
    from corpus import actions

    options: Namespace = build_parser().parse_args(argv)
    options.command_line = command
    try:
        return getattr(actions, f"do_{options.action}")(options, settings) or 0
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
