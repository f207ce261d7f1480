"""`scrapy corpus ...`: the entry point of the researcher's side (the top-level `corpus` package).

Scrapy parses its own options (-s, -L, --logfile) and `--help`; everything else goes to
corpus.cli, whose argparse subcommands give each action its own help.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from argparse import Namespace
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.commands import ScrapyCommand, ScrapyHelpFormatter
from scrapy.settings import BaseSettings

from crawler.control.startup import StartupError, check_settings

if TYPE_CHECKING:
    from types import ModuleType


def corpus_cli() -> ModuleType:
    """corpus.cli, imported when this command runs: Scrapy imports every command module at each
    start (`scrapy crawl` too), and the corpus side pulls in boto3, pyarrow and warcio."""
    from corpus import cli

    return cli


class KeepLineBreaks(ScrapyHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Scrapy's help headings, with the description's line breaks kept (also `scrapy extract`)."""


def settings_refused(command: str, settings: BaseSettings | None) -> bool:
    """`scrapy crawl`'s start-up check of the settings (a typo, an unreadable size or duration;
    sizes like 512MiB are written back as numbers): True, after one line on stderr, when it
    refuses them. Also used by `scrapy extract`."""
    try:
        check_settings(settings if settings is not None else BaseSettings())
    except StartupError as exc:
        print(f"scrapy {command}: error: {exc}", file=sys.stderr)
        return True
    return False


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_LEVEL": "WARNING"}  # it prints what matters

    def syntax(self) -> str:
        return f"{'|'.join(corpus_cli().ACTIONS)} [ARCHIVE] [options]"

    def short_desc(self) -> str:
        return "List, download, export and report on archived runs"

    def long_desc(self) -> str:
        return corpus_cli().DESCRIPTION

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = KeepLineBreaks
        # `--help` after an action shows that action's help, so Scrapy must not answer it
        parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
        self._scrapy_parser = parser

    def run(self, args: list[str], opts: Namespace) -> None:
        cli = corpus_cli()
        if opts.help:
            if any(arg in cli.ACTIONS for arg in args):
                cli.print_help(args)
            else:
                self._scrapy_parser.print_help()
            return
        if settings_refused("corpus", self.settings):
            self.exitcode = 2
            return
        # as typed, for the dataset card: Scrapy took "corpus" out of sys.argv, -s options stay
        typed = "scrapy corpus " + shlex.join(sys.argv[1:])
        self.exitcode = cli.main(args, self.settings, typed)
