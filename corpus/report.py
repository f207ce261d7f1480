"""`corpus report RUN`: one self-contained HTML file describing a run folder.

Everything is inline (charts as SVG, one <style>), so the file opens offline and can be mailed
or archived beside the run. Titles, URLs and error kinds come from the web: the template
escapes every value (Jinja2 autoescape) and a Content-Security-Policy forbids scripts and any
load from outside, in case something ever slips through.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from corpus import report_charts as charts
from corpus.catalog import plural
from corpus.report_data import RunSummary, summarize_run


@dataclass
class Chart:
    id: str  # the <figure> id: chart-...
    caption: str
    svg: Markup | None  # None: nothing to plot
    headers: Sequence[str]  # the data table under the chart
    rows: Sequence[Sequence[Any]]
    empty: str = "Nothing to plot."
    dated: bool = False  # the rows are days, months or years (kept on one line)


def write_report(run_dir: Path, out: Path) -> Path:
    """Write the HTML report of the run in `run_dir` to `out`; returns `out`."""
    summary = summarize_run(Path(run_dir))
    html = TEMPLATE.render(
        s=summary,
        totals=totals(summary),
        charts=build_charts(summary),
        generated=datetime.now().astimezone(),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def human_bytes(size: float) -> str:
    units, power = ("B", "KiB", "MiB", "GiB", "TiB"), 0
    while size >= 1024 and power < len(units) - 1:
        size, power = size / 1024, power + 1
    return f"{size:,.0f} B" if power == 0 else f"{size:,.1f} {units[power]}"


def totals(s: RunSummary) -> list[tuple[str, str, Any]]:
    """(key, label, value) for the header; None values are shown as unknown."""
    stats, duration = s.stats, None
    if s.started and s.finished:
        duration = str(s.finished - s.started).split(".")[0]
    dates = sorted(s.pub_days)
    return [
        ("started", "Started", _when(s.started)),
        ("finished", "Finished", _when(s.finished)),
        ("duration", "Duration", duration),
        ("finish-reason", "Finish reason", (s.manifest or {}).get("finish_reason")),
        ("articles", "Articles", s.articles),
        ("captures", "Captures (HTTP)", s.statuses.total() if s.status_source else None),
        ("requests", "Requests", stats.get("requests")),
        ("html-pages", "HTML pages", s.html_pages),
        ("domains", "Domains", len(s.domains)),
        ("pub-dates", "Publication dates", f"{dates[0]} … {dates[-1]}" if dates else None),
        ("warc-bytes", "WARC bytes", human_bytes(s.bytes_of("WARC"))),
        ("text-bytes", "Text bytes", human_bytes(s.bytes_of("text"))),
        ("revisit-saved", "Saved by revisits", _maybe_bytes(stats.get("revisit_bytes_saved"))),
        ("robots-forbidden", "Forbidden by robots.txt", stats.get("robots_forbidden")),
        ("invalid-seeds", "Invalid seeds", stats.get("invalid_seeds")),
        ("log-errors", "Errors logged", stats.get("log_errors")),
    ]


def _when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else None


def _maybe_bytes(size: int | None) -> str | None:
    return None if size is None else human_bytes(size)


def build_charts(s: RunSummary) -> list[Chart]:
    return [
        _bars("chart-domains", "Articles per domain", s.domains, ("Domain", "Articles")),
        *_timeline(s),
        _status(s),
        _yield(s),
        _sizes(s),
        _text_lengths(s),
        _errors(s),
        _not_stored(s),
        _bars("chart-languages", "Articles per language", s.languages, ("Language", "Articles")),
    ]


def _bars(chart_id: str, caption: str, counts: dict[str, int], headers: Sequence[str]) -> Chart:
    drawn, note = charts.shown(counts)
    svg = charts.hbar(chart_id, drawn, headers[-1].lower()) if counts else None
    return Chart(chart_id, caption + note, svg, headers, charts.ranked(counts))


def _timeline(s: RunSummary) -> list[Chart]:
    made = []
    for chart_id, what, days in (
        ("chart-pub-days", "publication", s.pub_days),
        ("chart-fetch-days", "fetch", s.fetch_days),
    ):
        if what == "fetch" and len(days) < 2:  # one crawl day says nothing a chart could add
            continue
        unit, buckets = charts.time_buckets(days)
        svg = charts.time_bars(chart_id, buckets, "articles") if buckets else None
        rows = [(start.isoformat()[: {"day": 10, "month": 7, "year": 4}[unit]], n)
                for start, _, n in buckets]  # fmt: skip
        caption = f"Articles per {what} {unit}"
        undated = s.articles - sum(days.values())
        if what == "publication" and undated:
            articles = plural(s.articles, "article")
            caption += f" ({undated:,} of {s.articles:,} {articles} have no date)"
        made.append(
            Chart(chart_id, caption, svg, (unit.capitalize(), "Articles"), rows, dated=True)
        )
    return made


def _status(s: RunSummary) -> Chart:
    rows = sorted(s.statuses.items())
    colors = [charts.status_color(status) for status, _ in rows]
    svg = charts.hbar("chart-status", rows, "captures", colors) if rows else None
    source = f" (from {s.status_source})" if s.status_source else ""
    return Chart("chart-status", f"HTTP status mix{source}", svg, ("Status", "Captures"), rows,
                 "No capture found.")  # fmt: skip


def _yield(s: RunSummary) -> Chart:
    rows: list[tuple[str, int]] = []
    if s.html_pages is not None:
        rows.append(("HTML pages fetched", s.html_pages))
    rows.append(("articles stored", s.articles))
    rows += [(f"not article: {reason}", n) for reason, n in charts.ranked(s.not_article)]
    colors = [charts.GREY] * (s.html_pages is not None) + [charts.GREEN]
    colors += [charts.ORANGE] * (len(rows) - len(colors))
    caption = "Extraction yield"
    if s.html_pages:
        caption += f": {s.articles / s.html_pages:.0%} of HTML pages became articles"
    svg = charts.hbar("chart-yield", rows, "pages", colors) if any(n for _, n in rows) else None
    return Chart("chart-yield", caption, svg, ("Pages", "Count"), rows)


def _sizes(s: RunSummary) -> Chart:
    kinds = ("WARC", "text", "index", "WACZ", "unfinished", "other")
    rows = [(kind, s.bytes_of(kind)) for kind in kinds if s.bytes_of(kind)]
    svg = charts.hbar("chart-sizes", rows, "bytes", value_label=human_bytes) if rows else None
    table = [(kind, f"{size:,}", human_bytes(size)) for kind, size in rows]
    return Chart("chart-sizes", "Stored bytes by kind of file", svg, ("Files", "Bytes", ""), table)


def _text_lengths(s: RunSummary) -> Chart:
    lengths = s.text_lengths
    svg = charts.histogram("chart-text-lengths", lengths, "characters", "articles")
    rows = [
        ("articles", len(lengths)),
        ("shortest", min(lengths)),
        ("median", round(statistics.median(lengths))),
        ("longest", max(lengths)),
        ("total", sum(lengths)),
    ] if lengths else []  # fmt: skip
    return Chart("chart-text-lengths", "Article text length (characters)",
                 svg if lengths else None, ("", "Characters"), rows)  # fmt: skip


def _errors(s: RunSummary) -> Chart:
    drawn, note = charts.shown(s.errors)
    colors = [charts.ORANGE if kind.startswith("http/") else charts.RED for kind, _ in drawn]
    svg = charts.hbar("chart-errors", drawn, "count", colors) if drawn else None
    return Chart("chart-errors", "Errors by kind" + note, svg, ("Kind", "Count"),
                 charts.ranked(s.errors), "No errors.")  # fmt: skip


def _not_stored(s: RunSummary) -> Chart:
    """What the crawl left out on purpose, apart from the errors so that those stand out."""
    drawn, note = charts.shown(s.not_stored)
    svg = (
        charts.hbar("chart-not-stored", drawn, "count", [charts.GREY] * len(drawn))
        if drawn
        else None
    )
    caption = "Not stored, by design (not errors): not articles, robots.txt, unchanged pages"
    return Chart("chart-not-stored", caption + note, svg, ("Kind", "Count"),
                 charts.ranked(s.not_stored), "Nothing left out.")  # fmt: skip


def _number(value: Any) -> Any:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["n"] = _number
ENV.filters["bytes"] = human_bytes
ENV.filters["plural"] = plural  # {{ count | plural("article") }}: 1 article, 2 articles
TEMPLATE = ENV.from_string((Path(__file__).with_name("report.html.j2")).read_text(encoding="utf-8"))
