"""A full disk (#14): the crawl stops downloading at once, says so in one line, and leaves
every file it wrote whole and readable.

Two ways to fill a disk, both through the real `scrapy crawl news` CLI: a real tmpfs of a few
hundred KB mounted as the archive (needs root / CAP_SYS_ADMIN; skipped elsewhere), and a
stand-in put on the crawl's PYTHONPATH (a sitecustomize) that makes every Python file write
under the archive's run folders fail with ENOSPC once a byte budget is spent, after a short
write as a real file system does.

The tmpfs crawl keeps its request queue in memory (Scrapy's own scheduler): the default
disk-queue frontier (crawler/frontier/scheduler.py, in `.state/` on the same disk) does not
survive a full disk yet: queuelib ignores short writes, and an ENOSPC raised in a push stalls
the engine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.discovery.documents import canonical
from pipelines.text import read_shard
from tests.conftest import scrapy
from tests.test_hostile import GUARDED, HostileSite, Page, article, home

ARTICLES = 400
RUN_ID = "diskfull"
# A log line about the failure: a logged error or warning naming it, however a writer words it
# (the stats dump and the CLI's last line name it too, and are not counted).
DISK_FULL_LINE = re.compile(
    r"^\S+ \S+ \[[^]]+\] (ERROR|WARNING|CRITICAL): "
    r".*(No space left on device|ENOSPC|SQLITE_FULL|disk is full)"
)

# The stand-in for a small disk: Python file writes under DISK_FULL_ROOT may grow files by
# DISK_FULL_BYTES in all, then a short write, then ENOSPC; writing over a file's own bytes takes
# no new room, as on a disk (SQLite's and queuelib's os.write() are not counted).
SITECUSTOMIZE = """
import builtins, errno, io, os

_ROOT = os.path.realpath(os.environ["DISK_FULL_ROOT"]) + os.sep
_left = [int(os.environ["DISK_FULL_BYTES"])]
_open = io.open


class _SmallDiskFile(io.FileIO):
    def write(self, data):
        data = memoryview(data)
        room = os.fstat(self.fileno()).st_size - self.tell() + _left[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        size = os.fstat(self.fileno()).st_size
        written = super().write(data[:room])
        _left[0] -= max(0, os.fstat(self.fileno()).st_size - size)
        return written


def _small_disk_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
                     closefd=True, opener=None):
    writes = any(flag in mode for flag in "wax+")
    if not writes or isinstance(file, int) or not os.path.realpath(file).startswith(_ROOT):
        return _open(file, mode, buffering, encoding, errors, newline, closefd, opener)
    raw = _SmallDiskFile(file, mode.replace("b", "").replace("t", ""), closefd, opener)
    buffered = (io.BufferedRandom if "+" in mode else io.BufferedWriter)(raw)
    if "b" in mode:
        return buffered
    return io.TextIOWrapper(buffered, io.text_encoding(encoding), errors, newline)


io.open = builtins.open = _small_disk_open
"""


def mount_small_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    return mounted.returncode == 0


@dataclass
class SmallDisk:
    archive: Path
    settings: list[str]  # -s options its crawl needs


@pytest.fixture(params=["tmpfs", "stand-in"])
def small_disk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SmallDisk]:
    """An archive folder that fills up after a few hundred KB."""
    archive = tmp_path / "archive"
    if request.param == "tmpfs":
        if not mount_small_tmpfs(archive, "300k"):
            pytest.skip("cannot mount a tmpfs here (not root / no CAP_SYS_ADMIN)")
        try:
            yield SmallDisk(archive, [])
        finally:
            subprocess.run(["umount", str(archive)], check=True)
        return
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", pythonpath)  # conftest.scrapy() passes the environment on
    monkeypatch.setenv("DISK_FULL_ROOT", str(archive / "news"))
    monkeypatch.setenv("DISK_FULL_BYTES", "150000")
    yield SmallDisk(archive, [])


def story(number: int) -> Page:
    """An article that compresses poorly (a random paragraph), so the disk fills quickly."""
    noise = " ".join(secrets.token_hex(6) for _ in range(150))
    return Page(article(f"Harbour story {number}", f"<p>Figures: {noise}</p>").encode())


@contextmanager
def serve_news_site(articles: int) -> Iterator[HostileSite]:
    """A home page linking `articles` stories (the first is /news/good-story/)."""
    with HostileSite() as site:
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        site.pages["/news/good-story/"] = story(0)
        hrefs = [f"/news/story-{n}/" for n in range(1, articles)]
        for n, href in enumerate(hrefs, 1):
            site.pages[href] = story(n)
        site.pages["/"] = home(*hrefs)
        yield site


@pytest.fixture
def news_site() -> Iterator[HostileSite]:
    with serve_news_site(ARTICLES) as site:
        yield site


# Enough for a full disk or a killed upload part-way and a second run after it (#21's tests)
SMALL_SITE_ARTICLES = 120


@pytest.fixture
def small_news_site() -> Iterator[HostileSite]:
    with serve_news_site(SMALL_SITE_ARTICLES) as site:
        yield site


def read_warc(path: Path) -> list[str]:
    """Every record read to its end (a torn record raises); their WARC-Record-IDs."""
    ids = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            record.content_stream().read()
            ids.append(record.rec_headers.get_header("WARC-Record-ID"))
    return ids


def test_a_full_disk_stops_the_crawl_and_leaves_whole_files(
    news_site: HostileSite, small_disk: SmallDisk
) -> None:
    archive = small_disk.archive
    result = scrapy(
        "crawl", "news", "-a", f"urls={news_site.base}/", "-s", f"ARCHIVE_URI={archive}",
        "-s", f"ARCHIVE_RUN_ID={RUN_ID}", *GUARDED, *small_disk.settings, timeout=120,
    )  # fmt: skip
    log = result.stderr
    stats = log.split("Dumping Scrapy stats")[-1]
    # the crawl says why it stopped, in one line, and stops downloading at once
    assert result.returncode == 4, log[-4000:]
    assert "Spider closed (storage_failed)" in log, log[-4000:]
    # the stat names the file and the error (pprint cuts a long string into adjacent pieces)
    found = re.search(r"'archive/storage_error': ((?:'[^']*'\s*)+)", stats)
    assert found, stats
    storage_error = "".join(re.findall(r"'([^']*)'", found.group(1)))
    assert re.fullmatch(rf"{archive}/\S+: (ENOSPC|SQLITE_FULL): .+", storage_error), storage_error
    failures = [line for line in log.splitlines() if DISK_FULL_LINE.search(line)]
    assert len(failures) < 5, "\n".join(failures[:20])
    assert "Traceback" not in log, log[-6000:]
    assert len(news_site.requests) < ARTICLES / 2, len(news_site.requests)

    run_dir = archive / "news" / RUN_ID
    # the manifest (written in the room it reserved) says why, and lists the closed files
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["finish_reason"] == "storage_failed"
    assert manifest["outcome"]["exit_code"] == 4
    assert manifest["complete"] is False  # it read true: a stopped run is not a complete one
    listed = scrapy("corpus", "ls", str(archive), "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    (run,) = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    assert run["state"] == "incomplete", run

    # every file is closed, and reads to its end
    assert not list(run_dir.rglob("*.open")), list(run_dir.rglob("*"))
    warcs = sorted(run_dir.glob("warc/*.warc.gz"))
    assert warcs, log[-4000:]
    record_ids = {record_id for warc in warcs for record_id in read_warc(warc)}
    shards = sorted(run_dir.glob("text/*.jsonl.gz"))
    records = [r for shard in shards for r in read_shard(shard)]
    assert records, log[-4000:]
    listed = {entry["key"].rsplit("/", 1)[-1] for entry in manifest["files"]}
    assert {p.name for p in [*warcs, *shards]} <= listed
    # nothing stored is lost: every text record's capture is in the WARCs, and every article
    # the seen-store marks (a later run will not fetch it again) is in the text shards
    assert {r["warc_record_id"] for r in records} <= record_ids
    seen_db = archive / ".state" / "news-seen.sqlite"
    with closing(sqlite3.connect(f"file:{seen_db}?mode=ro", uri=True)) as db:
        seen = {url for (url,) in db.execute("SELECT url FROM articles")}
    assert seen <= {canonical(r["url"]) for r in records} | {
        canonical(r["canonical_url"]) for r in records
    }
