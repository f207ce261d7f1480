"""`scrapy corpus ...`: work on archived runs.

    scrapy corpus wacz RUN     package a run (a run id under ARCHIVE_URI/<spider>/, or a folder)
    scrapy corpus push         upload what the S3 spool still holds (manifests last)
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from pipelines.index import write_run_wacz
from pipelines.s3 import S3ArchiveStore
from pipelines.storage import FSArchiveStore, get_store, safe_segment

ACTIONS = {"wacz": 2, "push": 1}  # action -> number of arguments with it


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "wacz RUN [--spider news] | push"

    def short_desc(self) -> str:
        return "Work on archived runs (wacz: package a run; push: upload the S3 spool)"

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
        if not args or ACTIONS.get(args[0]) != len(args):
            raise UsageError(f"usage: scrapy corpus {self.syntax()}")
        if args[0] == "push":
            self.push()
            return
        run_dir = self.run_dir(args[1], opts.spider)
        if not list((run_dir / "warc").glob("*.warc.gz")):
            raise UsageError(f"{run_dir} holds no finished WARC file")
        print(write_run_wacz(run_dir))

    def push(self) -> None:
        assert self.settings is not None
        store = get_store(self.settings["ARCHIVE_URI"], self.settings)
        if not isinstance(store, S3ArchiveStore):
            print(f"{store.uri} is a local archive: nothing to push")
            return
        done, failed = store.push()
        print(f"uploaded {len(done)} file(s) to {store.uri}; {len(failed)} left in the spool")
        for key in failed:
            print(f"  not uploaded: {key}")
        if failed:
            self.exitcode = 1
