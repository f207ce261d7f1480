"""Charts for `corpus report`: matplotlib figures saved as SVG, to be inlined in the HTML.

Text is drawn as paths (no font needed to view it) and every bar carries the id
`<chart id>-bar-<n>`, so a reader of the DOM (and the tests) can find and count them. Labels
come from the web: math text is off, so a `$` in a domain or error kind is just a character.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta

import matplotlib
import matplotlib.dates as mdates
from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

RC = {
    "svg.fonttype": "path",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
MAX_BARS = 25  # categories shown as bars; the rest are summed into one "others" bar
LABEL_CHARS = 48  # longer axis labels are cut (the table under the chart has them whole)
BLUE, GREEN, ORANGE, RED, GREY = "#3b6ea8", "#3f8f4f", "#d0862c", "#b8423a", "#8a8f98"
_ID = re.compile(r'\bid="([^"]+)"')
_ID_OR_REF = re.compile(r'(\bid="|#)([^"#()\s]+)([")])')  # id="x", href="#x", url(#x)


def _svg(chart_id: str, fig: Figure) -> Markup:
    """The figure as an `<svg>` element, its ids prefixed with the chart id (several charts
    share one HTML document, and matplotlib numbers ids from 1 in each)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    ids = {found for found in _ID.findall(svg) if not found.startswith(chart_id)}
    svg = _ID_OR_REF.sub(
        lambda m: m[1] + (f"{chart_id}-{m[2]}" if m[2] in ids else m[2]) + m[3], svg
    )
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{chart_id}-caption" ', 1)
    return Markup(svg)  # matplotlib's XML writer escapes; labels are drawn as paths anyway


def _axes(height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(7.5, height), layout="constrained")
    return fig, fig.add_subplot()


def _label_bars(chart_id: str, bars: Sequence[Rectangle]) -> None:
    for number, bar in enumerate(bars):
        bar.set_gid(f"{chart_id}-bar-{number}")


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Largest first, ties by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def shown(counts: dict[str, int]) -> tuple[list[tuple[str, int]], str]:
    """The categories drawn as bars, and a caption note when some are left to the table (an
    "others" bar would dwarf the rest)."""
    rows = ranked(counts)
    if len(rows) <= MAX_BARS:
        return rows, ""
    return rows[:MAX_BARS], f" (the {MAX_BARS} largest of {len(rows):,}; all in the table)"


def hbar(
    chart_id: str,
    rows: Sequence[tuple[str, int]],
    xlabel: str,
    colors: Sequence[str] | None = None,
    value_label: Callable[[int], str] = "{:,}".format,
) -> Markup:
    """Horizontal bars, first row on top, the value written at the end of each bar."""
    with matplotlib.rc_context({**RC, "svg.hashsalt": chart_id}):
        fig, ax = _axes(max(1.6, 0.8 + 0.26 * len(rows)))
        labels = [_cut(label) for label, _ in rows]
        values = [value for _, value in rows]
        bars = ax.barh(range(len(rows)), values, color=colors or BLUE)
        ax.set_yticks(range(len(rows)), labels)
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[value_label(v) for v in values], padding=3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.xaxis.set_major_formatter(lambda x, _: value_label(int(x)))
        ax.set_xlabel(xlabel)
        ax.margins(x=0.12)
        _label_bars(chart_id, bars)
        return _svg(chart_id, fig)


def time_buckets(days: dict[str, int]) -> tuple[str, list[tuple[date, int, int]]]:
    """Counts per YYYY-MM-DD summed per day, month or year, whichever keeps bars readable
    over the span: (unit, [(bucket start, bucket length in days, count)])."""
    dated: dict[date, int] = {}
    for day, count in days.items():
        try:
            dated[date.fromisoformat(day)] = count
        except ValueError:  # not a date after all: left to the table, not the time axis
            continue
    span = (max(dated) - min(dated)).days if dated else 0
    unit = "day" if span <= 92 else "month" if span <= 6 * 366 else "year"
    sums: dict[date, int] = {}
    for day, count in dated.items():
        start = day if unit == "day" else day.replace(day=1)
        start = start.replace(month=1) if unit == "year" else start
        sums[start] = sums.get(start, 0) + count
    lengths = {"day": lambda d: 1, "month": _month_days, "year": lambda d: 365}
    return unit, [(start, lengths[unit](start), n) for start, n in sorted(sums.items())]


def _month_days(start: date) -> int:
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return (following - start).days


def time_bars(chart_id: str, buckets: Sequence[tuple[date, int, int]], ylabel: str) -> Markup:
    """Vertical bars on a true time axis: (bucket start, bucket length in days, count)."""
    with matplotlib.rc_context({**RC, "svg.hashsalt": chart_id}):
        fig, ax = _axes(2.6)
        # datetimes, not dates: a date plus a fraction of a day is the same date
        starts = [
            datetime.combine(start, time()) + timedelta(days * 0.1) for start, days, _ in buckets
        ]
        widths = [timedelta(days=days * 0.8) for _, days, _ in buckets]
        bars = ax.bar(starts, [c for _, _, c in buckets], width=widths, align="edge", color=BLUE)
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(ylabel)
        _label_bars(chart_id, bars)
        return _svg(chart_id, fig)


def histogram(chart_id: str, values: Sequence[int], xlabel: str, ylabel: str) -> Markup:
    with matplotlib.rc_context({**RC, "svg.hashsalt": chart_id}):
        fig, ax = _axes(2.6)
        _, _, bars = ax.hist(values, bins=min(30, max(5, len(set(values)))), color=BLUE)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        _label_bars(chart_id, [bar for bar in bars if bar.get_height() > 0])
        return _svg(chart_id, fig)


def status_color(status: str) -> str:
    return {"2": GREEN, "3": BLUE, "4": ORANGE, "5": RED}.get(status[:1], GREY)
