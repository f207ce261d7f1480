"""`scrapy crawl`, telling cron the truth: Scrapy's command with an exit status per outcome.

0 ok, 1 could not start (lock held, unexpected error), 2 bad arguments or settings, 3 nothing
fetched, 4 storage failed, 5 uploads left in the S3 spool, 6 interrupted by SIGTERM/SIGINT
(README "Exit status"). The outcome of a run is decided by pipelines.outcome and recorded by the
manifest extension in the stats, which this command reads once the crawl is over. A start-up
error is one line on stderr (the traceback too with `-L DEBUG`), and so is a failed run's status.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import sys
import traceback
from argparse import ArgumentParser, Namespace, RawDescriptionHelpFormatter
from collections.abc import Callable
from textwrap import fill
from typing import Any

from scrapy import Spider
from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from twisted.internet.defer import Deferred

from crawler.control.extensions import INTERRUPTED_BY_STAT, SHUTDOWN_SIGNALS, InterruptExtension
from crawler.control.startup import parse_log_level
from crawler.storage_base import storage_error_text
from pipelines.outcome import (
    BAD_INPUT,
    STORAGE_FAILED,
    Outcome,
    decide_outcome,
    interrupted,
)

PROG = "scrapy crawl"
COULD_NOT_START = 1
EXIT_STATUS_HELP = (
    "Exit status: 0 ok (also when nothing was new), 1 could not start (another run holds the "
    "lock, unexpected error), 2 bad arguments or settings, 3 nothing fetched, 4 storage failed, "
    "5 uploads left in the spool (run `scrapy corpus push`), 6 interrupted (SIGTERM/SIGINT: "
    'run it again to continue); README "Exit status".'
)


class HelpFormatter(RawDescriptionHelpFormatter, ScrapyHelpFormatter):
    """Scrapy's headings, with the spider-argument table's line breaks kept."""


def spider_arguments(spidercls: type[Spider]) -> dict[str, str]:
    """NAME -> one line of help: the spider's `ARGUMENTS` (crawler.spiders.news), else its
    __init__'s named parameters (undescribed)."""
    described = getattr(spidercls, "ARGUMENTS", None)
    if described:
        return dict(described)
    parameters = inspect.signature(spidercls.__init__).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: "" for p in parameters if p.kind in named and p.name not in ("self", "name")}


def spider_examples(spidercls: type[Spider]) -> list[str]:
    """The `scrapy crawl` lines of the spider's docstring (else its module's)."""
    doc = spidercls.__doc__ or sys.modules[spidercls.__module__].__doc__ or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith("scrapy crawl ")]


def spider_help(spidercls: type[Spider]) -> str:
    arguments = spider_arguments(spidercls)
    if not arguments:
        return ""
    width = max(map(len, arguments)) + len("-a =VALUE")
    lines = [f"Arguments of the {spidercls.name} spider (-a NAME=VALUE):"]
    lines += [f"  {f'-a {n}=VALUE':<{width}}  {text}".rstrip() for n, text in arguments.items()]
    if examples := spider_examples(spidercls):
        lines += ["Examples:", *(f"  {example}" for example in examples)]
    return "\n".join(lines)


class StartupFailure:
    """An exception out of the crawl's start: one line for the user, the traceback for DEBUG."""

    def __init__(self, error: BaseException, traceback_text: str) -> None:
        self.error, self.traceback_text = error, traceback_text

    @property
    def exit_code(self) -> int:
        # Start-up validation (spider arguments, settings, components) raises ValueError; a
        # disk already full (the seen-store cannot be created) is a storage failure, as later.
        if storage_error_text(self.error) is not None:
            return STORAGE_FAILED
        return BAD_INPUT if isinstance(self.error, (ValueError, UsageError)) else COULD_NOT_START

    def report(self, debug: bool) -> None:
        if debug:
            sys.stderr.write(self.traceback_text)
        message = str(self.error) or type(self.error).__name__
        if self.exit_code == STORAGE_FAILED:
            where = getattr(self.error, "filename", None)  # OSError names its file
            why = storage_error_text(self.error)
            message = f"storage failed: {where}: {why}" if where else f"storage failed: {why}"
        elif self.exit_code == COULD_NOT_START and not isinstance(self.error, RuntimeError):
            message = f"{type(self.error).__name__}: {message}"  # unexpected: name the kind
        sys.stderr.write(f"{PROG}: error: {message}\n")


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return f"Run a spider of the current project, by name.\n\n{fill(EXIT_STATUS_HELP, 80)}"

    def add_options(self, parser: ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = HelpFormatter
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        helps = (spider_help(loader.load(name)) for name in sorted(loader.list()))
        parser.epilog = "\n\n".join(text for text in helps if text) or None

    def process_options(self, args: list[str], opts: Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        # Scrapy reads LOG_LEVEL when it sets up logging, before any add-on or spider check,
        # and an unknown name there was a traceback and exit 1; `-L debug` failed the same way.
        level = self.settings.get("LOG_LEVEL")
        try:
            parsed = parse_log_level(level)
        except ValueError as exc:
            sys.stderr.write(f"{PROG}: error: setting LOG_LEVEL={level!r}: {exc}\n")
            raise SystemExit(BAD_INPUT) from None
        self.settings.set("LOG_LEVEL", parsed, self.settings.getpriority("LOG_LEVEL") or 0)

    def run(self, args: list[str], opts: Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process is not None and self.settings is not None
        debug = logging.getLevelName(self.settings.get("LOG_LEVEL")) in ("DEBUG", 10)
        failures: list[StartupFailure] = []
        try:
            crawler = self._create_crawler(args[0])
        except KeyError as exc:  # the spider loader: no spider of that name
            sys.stderr.write(f"{PROG}: error: {exc.args[0] if exc.args else exc}\n")
            self.exitcode = BAD_INPUT
            return
        watch_start(self.crawler_process.crawl(crawler, **opts.spargs), failures.append)
        self.crawler_process.start()
        # The crawl is over and its manifest written: a late SIGTERM/SIGINT (the second of a
        # `systemctl stop`) must not turn the exit status into "killed by a signal".
        for signum in SHUTDOWN_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if failures:
            failures[0].report(debug)
            self.exitcode = failures[0].exit_code
            return
        outcome = run_outcome(crawler)
        self.exitcode = outcome.exit_code
        if outcome.exit_code:
            sys.stderr.write(f"{PROG}: failed (exit {outcome.exit_code}): {outcome.why}\n")


def watch_start(
    started: Deferred[Any] | asyncio.Future[Any], failed: Callable[[StartupFailure], None]
) -> None:
    """Hand an exception out of the crawl to `failed`, which also marks it handled: no
    "Task exception was never retrieved" / "Unhandled error in Deferred" traceback."""
    if isinstance(started, Deferred):
        started.addErrback(lambda f: failed(StartupFailure(f.value, f.getTraceback())))
        return

    def done(task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            failed(StartupFailure(error, "".join(traceback.format_exception(error))))

    started.add_done_callback(done)


def run_outcome(crawler: Crawler) -> Outcome:
    """The outcome the manifest extension recorded; decided here from the stats when that
    extension is off (no manifest, so no spool to list)."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    if (recorded := Outcome.recorded(stats)) is not None:
        return recorded
    # a second signal forced the stop before the manifest (and maybe before the stat was set)
    # here, not at the top: Scrapy imports this module for every `scrapy ...` (boto3 comes with it)
    from pipelines.manifest import RunManifestExtension

    noted = crawler.get_extension(InterruptExtension)
    if noted is not None and noted.received is not None:
        return interrupted({INTERRUPTED_BY_STAT: noted.received, **stats}, forced=True)
    if crawler.get_extension(RunManifestExtension) is not None:  # it failed: see the log
        return Outcome(COULD_NOT_START, "error", "the run's outcome was not recorded (see the log)")
    return decide_outcome(stats.get("finish_reason", ""), stats, ())
