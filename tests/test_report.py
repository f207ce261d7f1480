"""`corpus report`: the HTML report of a real crawl, rendered in a real headless Chromium.

The crawl covers the demo site and a second local site whose one article has a title made of
markup. Every check reads the DOM Chromium built (what a person sees), and the browser runs
offline, recording every request the page makes.

Chromium is Debian's /usr/bin/chromium (installed by `make install-test`), driven through
Playwright's Python API with `executable_path`: Playwright gives the page's requests, console
and dialogs as events, and evaluates JavaScript in the page, without a driver binary to match.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from corpus.report import write_report
from crawler.demo.server import DemoServer
from tests.conftest import FAST, scrapy, text_records

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# As root Chromium needs --no-sandbox; the rest stop it from phoning home (it would wait on
# the blocked network) and keep the run free of any profile but a fresh one.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
HOSTILE_TITLE = (
    'Harbour <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> reopens'
)
HOSTILE_PATH = "/news/2026/11/20/harbour-reopens/"
HOSTILE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2026-11-20T08:00:00+00:00"></head>
<body><article><h1>{title}</h1>
<p>The old harbour of Port Aldine reopened on Friday after eighteen months of dredging work, the
town council said, with the first ferry arriving shortly after eight in the morning.</p>
<p>Local traders, who had complained that the closure cost them a third of their summer trade,
lined the quay to greet the ferry. The council said the dredging had cost less than estimated.</p>
<p>Fishing boats will return to the inner basin next week, once the new pontoons are in place.
The harbour master said that larger vessels would still need to wait for the spring tides.</p>
</article></body></html>
"""
CHARTS = [
    "chart-domains", "chart-pub-days", "chart-status", "chart-yield", "chart-sizes",
    "chart-text-lengths", "chart-errors", "chart-not-stored", "chart-languages",
]  # fmt: skip
GONE_PATH = "/news/2026/11/21/gone/"  # a seed the site does not have: a real error (404)
TABLE_ROWS = """sel => [...document.querySelectorAll(sel + ' tbody tr')]
    .map(tr => [...tr.children].map(cell => cell.textContent.trim()))"""
# Each date cell's text as line boxes: one distinct top edge when it did not wrap.
DATE_LINES = """() => [...document.querySelectorAll('.date')].filter(e => e.textContent.trim())
    .map(e => { const range = document.createRange(); range.selectNodeContents(e);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return [e.textContent.trim(), tops.size, getComputedStyle(e).whiteSpace]; })"""
BARS = """id => [...document.querySelectorAll(`#${id} [id^="${id}-bar-"]`)]
    .map(bar => { const r = bar.getBoundingClientRect(); return [r.width, r.height]; })"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    hostile_root = tmp / "hostile-site"
    page = hostile_root / HOSTILE_PATH.strip("/") / "index.html"
    page.parent.mkdir(parents=True)
    escaped = HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    page.write_text(HOSTILE_PAGE.format(title=escaped), encoding="utf-8")
    with DemoServer() as demo, DemoServer(host="localhost", root=hostile_root) as hostile:
        urls = (f"{demo.base_url}/,{demo.base_url}/feed.xml,{hostile.base_url}{HOSTILE_PATH},"
                f"{hostile.base_url}{GONE_PATH}")  # fmt: skip
        result = scrapy(
            "crawl", "news", "-a", f"urls={urls}", "-s", f"ARCHIVE_URI={tmp / 'archive'}",
            "-s", "ARCHIVE_RUN_ID=report-run", "-s", "DEPTH_LIMIT=3", *FAST,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "archive" / "news" / "report-run"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # CI must not pass by skipping the browser
        pytest.fail(f"{CHROMIUM} is missing: `make install-test` installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Rendered:
    path: Path
    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def rows(self, selector: str) -> list[list[str]]:
        return self.page.evaluate(TABLE_ROWS, selector)

    def total(self, key: str) -> str:
        return self.page.locator(f'[data-total="{key}"]').text_content().strip()


def render(browser: Browser, report: Path, width: int = 1280) -> Rendered:
    """The report opened in an offline browser context (`width` CSS pixels wide), its requests
    and messages recorded."""
    context = browser.new_context(offline=True, viewport={"width": width, "height": 800})
    rendered = Rendered(report, context.new_page())
    rendered.page.on("request", lambda request: rendered.requests.append(request.url))
    rendered.page.on("console", lambda message: rendered.console.append(message.text))
    rendered.page.on("dialog", lambda dialog: rendered.dialogs.append(dialog.message))
    rendered.page.goto(report.as_uri(), wait_until="load")
    return rendered


@pytest.fixture(scope="module")
def report(run_dir: Path, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    out = write_report(run_dir, tmp_path_factory.mktemp("out") / "report.html")
    return render(browser, out)


def cdxj_statuses(run_dir: Path) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for line in (run_dir / "indexes" / "index.cdxj").read_text(encoding="utf-8").splitlines():
        fields = json.loads(line.split(" ", 2)[2])
        if "status" in fields:
            statuses[fields["status"]] += 1
    return statuses


def number(text: str) -> int:
    return int(text.replace(",", ""))


def counts(rows: list[list[str]]) -> dict[str, int]:
    return {row[0]: number(row[1]) for row in rows}


def bar_sizes(rendered: Rendered, chart_id: str) -> list[list[float]]:
    return rendered.page.evaluate(BARS, chart_id)


def test_report_loads_nothing_and_runs_nothing(report: Rendered) -> None:
    page = report.page
    assert report.requests == [page.url], "the report asked for something besides itself"
    assert report.console == []  # a CSP refusal of any load or script would be logged here
    assert (
        page.evaluate("document.querySelectorAll('script, link, img, iframe, object').length") == 0
    )
    outside = page.evaluate(
        """[...document.querySelectorAll('[href], [src]')].filter(e => e.tagName !== 'A')
            .map(e => e.getAttribute('href') || e.getAttribute('src'))
            .filter(ref => !ref.startsWith('#'))"""
    )
    assert outside == []
    # The charts share one document: their ids stay unique and every glyph reference resolves.
    unresolved = page.evaluate(
        """[...document.querySelectorAll('use')]
            .map(use => use.getAttribute('xlink:href') || use.getAttribute('href'))
            .filter(ref => !ref.startsWith('#') || !document.getElementById(ref.slice(1)))"""
    )
    assert unresolved == [] and page.locator("use").count() > 100
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids))


def outcomes(run_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """The manifest's error counts split by hand: (errors, not stored by design)."""
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    counted = manifest["stats"]["errors"]
    by_design = {
        kind: n for kind, n in counted.items()
        if kind.startswith("not_article/") or kind in ("download/IgnoreRequest", "http/304")
    }  # fmt: skip
    return {k: n for k, n in counted.items() if k not in by_design}, by_design


def test_every_chart_is_drawn_with_one_bar_per_value(report: Rendered, run_dir: Path) -> None:
    records = text_records(run_dir)
    errors, by_design = outcomes(run_dir)
    not_article = [kind for kind in by_design if kind.startswith("not_article/")]
    expected_bars = {
        "chart-domains": len({urlsplit(r["url"]).hostname for r in records}),
        "chart-status": len(cdxj_statuses(run_dir)),
        "chart-yield": 2 + len(not_article),  # HTML pages, articles, one per reason
        "chart-sizes": 3,  # WARC, text, index
        "chart-errors": len(errors),
        "chart-not-stored": len(by_design),
        "chart-languages": len({r["language"] for r in records}),
        "chart-pub-days": len(report.rows("#chart-pub-days")),  # one per day/month/year row
    }
    assert expected_bars["chart-domains"] == 2 and not_article  # the run is what we think
    for chart_id in CHARTS:
        figure = report.page.locator(f"figure#{chart_id}")
        assert figure.locator("figcaption").text_content().strip()
        box = figure.locator("svg").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 50, chart_id
        bars = bar_sizes(report, chart_id)
        assert bars and all(w > 0 and h > 0 for w, h in bars), (chart_id, bars)
        if chart_id in expected_bars:
            assert len(bars) == expected_bars[chart_id], chart_id
    # Bar lengths follow the numbers: the 404 bar is as much longer as it has more captures.
    statuses = sorted(cdxj_statuses(run_dir).items())
    widths = [w for w, _ in bar_sizes(report, "chart-status")]
    for (_, count), width in zip(statuses, widths, strict=True):
        assert width / widths[0] == pytest.approx(count / statuses[0][1], rel=0.02)


def test_numbers_shown_are_the_runs(report: Rendered, run_dir: Path) -> None:
    records = text_records(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    statuses = cdxj_statuses(run_dir)
    assert number(report.total("articles")) == len(records) > 16
    assert number(report.total("captures")) == statuses.total()
    assert number(report.total("requests")) == manifest["stats"]["requests"]
    assert counts(report.rows("#chart-status")) == statuses
    domains = Counter(urlsplit(r["url"]).hostname for r in records)
    assert counts(report.rows("#chart-domains")) == domains
    # Errors and what was left out on purpose are two charts: every count in exactly one.
    errors, by_design = outcomes(run_dir)
    assert counts(report.rows("#chart-errors")) == errors
    assert counts(report.rows("#chart-not-stored")) == by_design
    assert errors.get("http/404") == 1  # the gone seed, and nothing by design among the errors
    assert not any(kind.startswith("not_article/") for kind in errors)
    assert by_design["download/IgnoreRequest"] == manifest["stats"]["robots_forbidden"] > 0
    caption = report.page.locator("#chart-errors-caption").text_content()
    assert caption.startswith("Errors by kind")
    assert "by design" in report.page.locator("#chart-not-stored-caption").text_content()
    assert sum(counts(report.rows("#chart-pub-days")).values()) == sum(
        bool(r["date"]) for r in records
    )
    yields = counts(report.rows("#chart-yield"))
    assert yields["HTML pages fetched"] == manifest["stats"]["pages_by_kind"]["html"]
    assert yields["articles stored"] == len(records)
    assert report.page.locator("#completeness").text_content() == "complete"
    files = {row[0]: row for row in report.rows("#files")}
    warcs = sorted((run_dir / "warc").glob("*.warc.gz"))
    assert warcs and len(files) == len(manifest["files"])
    for warc in warcs:  # sizes and hashes are the files', not copied blindly
        row = files[f"warc/{warc.name}"]
        assert number(row[2]) == warc.stat().st_size
        assert row[4] == hashlib.sha256(warc.read_bytes()).hexdigest()


def test_dates_never_wrap(report: Rendered, browser: Browser, tmp_path: Path) -> None:
    """On a phone-wide window the article table squeezes its columns: dates stay on one line
    (white-space: nowrap), where without that rule the same cells break at their hyphens."""
    narrow = render(browser, report.path, width=420)
    dates = narrow.page.evaluate(DATE_LINES)
    published = [row[1] for row in narrow.rows("#articles") if row[1]]
    assert len([d for d in dates if d[0] in published]) >= len(published) > 10
    assert {d[0] for d in dates} >= {narrow.total("started"), narrow.total("finished")}
    assert [d for d in dates if d[1:] != [1, "nowrap"]] == []
    html = report.path.read_text(encoding="utf-8")
    unruled = tmp_path / "no-nowrap.html"
    unruled.write_text(html.replace(".date { white-space: nowrap; }", ""), encoding="utf-8")
    wrapped = render(browser, unruled, width=420).page.evaluate(DATE_LINES)
    assert [d for d in wrapped if d[1] > 1], "the check would not see a wrapped date"


def test_hostile_title_is_shown_as_text(
    report: Rendered, run_dir: Path, browser: Browser, tmp_path: Path
) -> None:
    assert HOSTILE_TITLE in {r["title"] for r in text_records(run_dir)}  # it reached the archive
    # Without the Content-Security-Policy too: escaping alone must hold.
    html = report.path.read_text(encoding="utf-8")
    assert "<script>window" not in html
    unguarded = tmp_path / "no-csp.html"
    unguarded.write_text(html.replace("Content-Security-Policy", "X-Removed"), encoding="utf-8")
    for rendered in (report, render(browser, unguarded)):
        page = rendered.page
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.querySelectorAll('script, img').length") == 0
        assert rendered.dialogs == [] and rendered.requests == [page.url]
        titles = page.eval_on_selector_all(
            "#articles td.title", "cells => cells.map(c => c.textContent)"
        )
        assert HOSTILE_TITLE in titles


def test_report_of_a_killed_run(run_dir: Path, browser: Browser, tmp_path: Path) -> None:
    """No manifest, no index, a WARC still open: the report says so and shows the rest."""
    killed = tmp_path / "killed"
    shutil.copytree(run_dir, killed)
    (killed / "manifest.json").unlink()
    (killed / "indexes" / "index.cdxj").unlink()
    (killed / "warc" / "news-20990101000000-00002-host.warc.gz.open").write_bytes(b"x" * 1000)
    rendered = render(browser, write_report(killed, tmp_path / "killed.html"))
    page = rendered.page
    assert rendered.requests == [page.url] and rendered.console == []
    assert page.locator("#completeness").text_content() == "incomplete"
    missing = page.locator("#missing").text_content()
    assert "No manifest.json" in missing and "No indexes/index.cdxj" in missing
    records = text_records(run_dir)
    assert number(rendered.total("articles")) == len(records)
    assert rendered.total("requests") == "unknown"
    statuses = cdxj_statuses(run_dir)  # the original index; the report indexed the WARCs itself
    assert counts(rendered.rows("#chart-status")) == statuses
    http_errors = {f"http/{s}": n for s, n in statuses.items() if int(s) >= 400}
    assert counts(rendered.rows("#chart-errors")) == http_errors and http_errors
    for chart_id in ("chart-domains", "chart-status", "chart-errors", "chart-text-lengths"):
        assert bar_sizes(rendered, chart_id), chart_id
    files = {row[0]: row for row in rendered.rows("#files")}
    open_row = files["warc/news-20990101000000-00002-host.warc.gz.open"]
    assert open_row[1] == "unfinished" and open_row[4] == "not recorded"


def test_report_of_an_empty_run(browser: Browser, tmp_path: Path) -> None:
    """A crawl killed before it wrote anything still gets a report that says so."""
    empty = tmp_path / "20261125T000000Z-abcdef"
    empty.mkdir()
    rendered = render(browser, write_report(empty, tmp_path / "empty.html"))
    page = rendered.page
    assert page.locator("#run-id").text_content() == empty.name
    assert rendered.total("started") == "2026-11-25 00:00:00 UTC"  # read off the run id
    assert number(rendered.total("articles")) == 0
    assert "No finished text shard" in page.locator("#missing").text_content()
    assert page.locator("figure#chart-status .empty").text_content() == "No capture found."
    assert page.locator("figure.chart").count() == len(CHARTS)
    assert page.evaluate("document.querySelectorAll('figure svg').length") == 0  # nothing to draw


def test_day_charts_of_a_short_run(browser: Browser, tmp_path: Path) -> None:
    """Publication and fetch days inside a few days are drawn per day, bar heights as counts."""
    run = tmp_path / "20261121T000000Z-days"
    (run / "text").mkdir(parents=True)
    published = ["2026-11-18"] * 3 + ["2026-11-19"] + ["2026-11-21"] * 2 + [None]
    fetched = ["2026-11-21"] * 4 + ["2026-11-22"] * 3
    lines = [
        json.dumps(
            {
                "url": f"https://news.example/{n}",
                "title": f"Story {n}",
                "language": "en",
                "date": day and f"{day}T09:00:00+01:00",
                "fetched_at": f"{fetch}T10:00:00Z",
                "text": "x" * (500 + n),
            }
        )
        for n, (day, fetch) in enumerate(zip(published, fetched, strict=True))
    ]
    shard = run / "text" / "news-20261121000000-00001.jsonl.gz"
    shard.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    rendered = render(browser, write_report(run, tmp_path / "days.html"))
    assert counts(rendered.rows("#chart-pub-days")) == {
        "2026-11-18": 3, "2026-11-19": 1, "2026-11-21": 2,
    }  # fmt: skip
    assert "1 of 7 articles have no date" in rendered.page.locator("#chart-pub-days").text_content()
    for chart_id, expected in (("chart-pub-days", [3, 1, 2]), ("chart-fetch-days", [4, 3])):
        bars = bar_sizes(rendered, chart_id)
        assert len(bars) == len(expected) and all(w > 2 for w, _ in bars), (chart_id, bars)
        for (_, height), count in zip(bars, expected, strict=True):
            assert height / bars[0][1] == pytest.approx(count / expected[0], rel=0.02)
