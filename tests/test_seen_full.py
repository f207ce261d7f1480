"""A full disk at any of an article's writes (#21): WARC conversion and metadata records, text
record, seen mark. A crawl runs out of room (a real tmpfs of several sizes, or the seen-store's
SQLite capped with `SEEN_MAX_PAGES` so that it reports SQLITE_FULL), then room is made and the
crawl runs again: across both runs every article of the site is in the text exactly once, with
its conversion and metadata records, and marked seen; every WARC passes `warcio check`.

Real `scrapy crawl news` subprocesses on a 120-page site on 127.0.0.1.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.discovery.documents import canonical
from tests.conftest import scrapy, text_records
from tests.test_disk_full import SMALL_SITE_ARTICLES as ARTICLES
from tests.test_disk_full import mount_small_tmpfs, small_news_site  # noqa: F401 (a fixture)
from tests.test_hostile import GUARDED, HostileSite

WARCIO = Path(sys.executable).parent / "warcio"
# (how the room runs out, how much there is): tmpfs sizes, or seen-store pages of 4 KiB (the
# empty store has 7: its tables and their keys)
# Two in `make test` (tests/test_faults.py fills every write site too); the rest with the soak.
SOAK = [pytest.mark.soak, pytest.mark.skipif(os.environ.get("NEWS_SOAK") != "1",
                                             reason="the soak runs with NEWS_SOAK=1")]  # fmt: skip
BUDGETS = [
    pytest.param(("tmpfs", "400k"), id="tmpfs-400k"),
    pytest.param(("seen-pages", "8"), id="seen-pages-8"),
    *(pytest.param(budget, id="-".join(budget), marks=SOAK)
      for budget in [("tmpfs", "300k"), ("tmpfs", "1m"), ("seen-pages", "11")]),
]  # fmt: skip


@pytest.fixture
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The archive folder: a tmpfs of the budget's size, or a plain folder."""
    kind, size = request.param
    folder = tmp_path / "archive"
    if kind != "tmpfs":
        folder.mkdir()
        yield folder
        return
    if not mount_small_tmpfs(folder, size):
        pytest.skip("cannot mount a tmpfs here (not root / no CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def crawl(site: HostileSite, archive: Path, run_id: str, *settings: str) -> str:
    result = scrapy(
        "crawl", "news", "-a", f"urls={site.base}/", "-s", f"ARCHIVE_URI={archive}",
        "-s", f"ARCHIVE_RUN_ID={run_id}", *GUARDED, *settings, timeout=300,
    )  # fmt: skip
    return f"exit {result.returncode}\n{result.stderr}"


def text_refs(run_dirs: list[Path]) -> dict[str, set[str]]:
    """WARC-Refers-To of the conversion and of the metadata records; every WARC checked."""
    refs: dict[str, set[str]] = {"conversion": set(), "metadata": set()}
    for warc in sorted(p for run in run_dirs for p in run.glob("warc/*.warc.gz")):
        check = subprocess.run([str(WARCIO), "check", str(warc)], capture_output=True, text=True)
        assert check.returncode == 0, f"{warc}: {check.stdout}{check.stderr}"
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type in refs:
                    refs[record.rec_type].add(record.rec_headers.get_header("WARC-Refers-To"))
    return refs


@pytest.mark.parametrize("archive", BUDGETS, indirect=True)
def test_full_disk_then_room_again_stores_every_article_once(
    archive: Path, small_news_site: HostileSite, request: pytest.FixtureRequest  # noqa: F811
) -> None:
    kind, size = request.node.callspec.params["archive"]
    capped = ["-s", f"SEEN_MAX_PAGES={size}"] if kind == "seen-pages" else []
    full = crawl(small_news_site, archive, "full", *capped)
    assert full.startswith("exit 4\n"), full[-4000:]  # storage_failed
    if capped:
        assert "SQLITE_FULL" in full, full[-4000:]
    else:  # room again
        subprocess.run(["mount", "-o", "remount,size=64m", str(archive)], check=True)
    again = crawl(small_news_site, archive, "again")
    assert again.startswith("exit 0\n"), again[-4000:]

    runs = [archive / "news" / "full", archive / "news" / "again"]
    first, second = (text_records(run) for run in runs)
    urls = [r["url"] for r in first + second]
    counts = f"text: {len(first)} + {len(second)}"
    assert len(urls) == len(set(urls)), f"stored twice ({counts})"
    articles = {f"{small_news_site.base}/news/good-story/"} | {
        f"{small_news_site.base}/news/story-{n}/" for n in range(1, ARTICLES)
    }
    assert set(urls) == articles, f"lost: {sorted(articles - set(urls))[:5]} ({counts})"
    refs = text_refs(runs)
    for record in first + second:
        for rec_type, refers in refs.items():
            assert record["warc_record_id"] in refers, f"{record['url']}: no {rec_type} record"
    with closing(sqlite3.connect(archive / ".state" / "news-seen.sqlite")) as db:
        seen = {url for (url,) in db.execute("SELECT url FROM articles")}
    keys = {canonical(u) for u in urls}
    assert keys <= seen, f"stored, not marked seen: {sorted(keys - seen)[:5]} ({counts})"
    assert seen <= keys | {canonical(r["canonical_url"]) for r in first + second if r.get(
        "canonical_url")}, "marked seen, not stored"  # fmt: skip
    if capped:  # the article whose mark failed is in the text: marked from it, not refetched
        assert "were not marked seen; marked now" in again, again[-4000:]
    print(f"{kind} {size}: {counts}, seen {len(seen)}")
