"""Every run's WACZ lists its pages (issue #24): WACZ 1.1.1 requires `pages/pages.jsonl`, and
ReplayWeb.page lists a package's pages from it. An incremental run that fetched nothing new
(its captures are revisits, it wrote no text record) lists its revisited pages too.

Real components only: a site on 127.0.0.1 without validators (so the second run re-reads the
articles and finds the same bytes), two `scrapy crawl news` runs, `scrapy corpus wacz` and
py-wacz's `wacz validate`."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import text_records
from tests.test_corpus import corpus
from tests.test_hostile import HostileSite, Page, article, crawl, home, html

pytestmark = pytest.mark.slow

ARTICLES = {
    "/news/good-story/": "Harbour board publishes its figures",
    "/news/ferry/": "Ferry timetable changes from Monday",
    "/news/lighthouse/": "Lighthouse repairs begin in spring",
}


@dataclass
class Runs:
    archive: Path
    base: str
    first: Path
    second: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    tmp = tmp_path_factory.mktemp("wacz-pages")
    with HostileSite() as site:
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        site.pages["/"] = home(*ARTICLES)
        for path, title in ARTICLES.items():
            site.pages[path] = html(article(title))
        fast = ("-s", "NEWS_EXTRACT_PROCESSES=0")
        crawl(site, tmp, "-s", "ARCHIVE_RUN_ID=run-1", *fast)
        site.requests.clear()  # crawl() checks each run's requests against the site's
        # the articles asked for again (refetch=changed; the site sends no validators): the
        # same bytes, so revisit records, and the same texts, so no text record
        crawl(site, tmp, "-s", "ARCHIVE_RUN_ID=run-2", "-a", "refetch=changed", *fast)
    news = tmp / "archive" / "news"  # (crawl()'s Crawl.run_dir assumes its own run id)
    found = Runs(tmp / "archive", site.base, news / "run-1", news / "run-2")
    assert {r["url"] for r in text_records(found.first)} == {site.base + p for p in ARTICLES}
    assert not text_records(found.second)
    return found


def pages_of(wacz: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and pages of a WACZ's pages/pages.jsonl (KeyError: the file is missing)."""
    with zipfile.ZipFile(wacz) as archive:
        lines = archive.read("pages/pages.jsonl").decode("utf-8").splitlines()
    header, *pages = (json.loads(line) for line in lines if line.strip())
    return header, pages


def packaged(runs: Runs, run: str) -> Path:
    made = corpus("wacz", run, str(runs.archive))
    assert made.returncode == 0, made.stderr[-3000:]
    wacz = Path(made.stdout.strip())
    validated = subprocess.run(
        [str(Path(sys.executable).with_name("wacz")), "validate", "-f", str(wacz)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout[-2000:] + validated.stderr[-2000:]
    return wacz


def captures(run_dir: Path, rec_type: str) -> dict[str, str]:
    """URL -> WARC-Date of the run's records of `rec_type`."""
    found = {}
    for warc in sorted((run_dir / "warc").glob("*.warc.gz")):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == rec_type:
                    headers = record.rec_headers
                    found[headers["WARC-Target-URI"]] = headers["WARC-Date"]
    return found


def check_format(header: dict[str, Any], pages: list[dict[str, Any]]) -> None:
    """ReplayWeb.page's pages.jsonl: a json-pages-1.0 header, then url + ISO ts a page."""
    assert header["format"] == "json-pages-1.0" and header["id"] == "pages" and header["title"]
    for page in pages:
        assert page["url"].startswith("http") and page["id"]
        assert datetime.fromisoformat(page["ts"].replace("Z", "+00:00")).tzinfo is not None
    assert len({(p["url"], p["ts"]) for p in pages}) == len(pages)


def test_a_run_of_revisits_only_lists_its_revisited_pages(runs: Runs) -> None:
    header, pages = pages_of(packaged(runs, "run-2"))
    check_format(header, pages)
    revisits = captures(runs.second, "revisit")
    articles = {runs.base + path for path in ARTICLES}
    assert articles <= set(revisits)  # the run re-read the articles: same bytes, revisits
    listed = {p["url"]: p for p in pages}
    assert set(listed) == articles | {runs.base + "/"}  # robots.txt is no page
    for url, page in listed.items():
        stamp = datetime.fromisoformat(page["ts"].replace("Z", "+00:00"))
        assert stamp.strftime("%Y%m%d%H%M%S") == revisits[url][:19].translate(
            str.maketrans("", "", "-:T")
        )  # this run's capture, not the first run's


def test_a_run_with_articles_lists_them_with_title_and_text(runs: Runs) -> None:
    header, pages = pages_of(packaged(runs, "run-1"))
    check_format(header, pages)
    listed = {p["url"]: p for p in pages}
    assert set(listed) == {runs.base + p for p in ("/", *ARTICLES)}
    for record in text_records(runs.first):
        page = listed[record["url"]]
        assert page["title"] == record["title"] and page["text"] == record["text"]
        assert page["id"] == record["id"]
    assert header.get("hasText") is True
