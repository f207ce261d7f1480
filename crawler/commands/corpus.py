"""`scrapy corpus ...`: work on archived runs. So far: `scrapy corpus wacz RUN`.

RUN is a run id under ARCHIVE_URI/<spider>/ or the path of a run folder.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from pipelines.index import write_run_wacz
from pipelines.storage import FSArchiveStore, get_store, safe_segment

ACTIONS = ("wacz",)


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "wacz RUN [--spider news]"

    def short_desc(self) -> str:
        return "Work on archived runs (wacz: package a run as a WACZ file)"

    def add_options(self, parser: ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--spider", default="news", help="spider whose runs RUN names")

    def run_dir(self, run: str, spider: str) -> Path:
        path = Path(run)
        if path.is_dir():
            return path.resolve()
        assert self.settings is not None
        store = get_store(self.settings["ARCHIVE_URI"])
        if not isinstance(store, FSArchiveStore):
            raise UsageError(f"{store.uri}: only local archives are supported here")
        found = store.root / safe_segment(spider) / safe_segment(run)
        if not found.is_dir():
            raise UsageError(f"no run {run!r}: neither a folder nor {found}")
        return found

    def run(self, args: list[str], opts: Namespace) -> None:
        if len(args) != 2 or args[0] not in ACTIONS:
            raise UsageError(f"usage: scrapy corpus {self.syntax()}")
        run_dir = self.run_dir(args[1], opts.spider)
        if not list((run_dir / "warc").glob("*.warc.gz")):
            raise UsageError(f"{run_dir} holds no finished WARC file")
        print(write_run_wacz(run_dir))
