"""Extraction quality and speed: our extractor against plain trafilatura, side by side.

    python bench/extraction_quality.py [--repeat 5] [--rounds 3]

Part 1, real pages: ../shared/newsbench (bench/newsbench.py), ours vs plain trafilatura with the
benchmark's own scorer, and trafilatura's fast mode vs full mode, with ms per page.
Part 2, the project's own fixtures (regression set, written here):
On tests/fixtures/extraction (see its README): snippet precision / recall / F1 (a must_contain
snippet found is a true positive, a must_not_contain snippet found a false positive), date,
title, author and language accuracy, page-type accuracy, and ms per page. Non-article pages
count with the text the crawler would store for them: ours stores none when it says "not an
article", plain trafilatura stores whatever it extracts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import newsbench  # noqa: E402
from crawler.extract.extraction import extract  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "extraction"
FETCHED_AT = "2026-11-25T00:00:00Z"  # the fixtures were saved the day before


@dataclass
class Outcome:
    """What one extractor made of one page, reduced to what we score."""

    text: str
    date: str | None
    title: str | None
    author: str | None
    language: str | None
    is_article: bool


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    checks: dict[str, list[bool]] = field(default_factory=dict)
    seconds: float = 0.0
    pages: int = 0

    def check(self, name: str, ok: bool) -> None:
        self.checks.setdefault(name, []).append(ok)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def accuracy(self, name: str) -> float:
        results = self.checks.get(name, [])
        return sum(results) / len(results) if results else 0.0


def load_fixtures(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    entries = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    for entry in entries:
        entry["html"] = (folder / entry["file"]).read_bytes()
    return entries


def ours(html: bytes, url: str) -> Outcome:
    result = extract(html, url, fetched_at=FETCHED_AT)
    article = result.article
    if article is None:
        return Outcome("", None, None, None, None, False)
    # a page stored as a listing, paywall stub, video or uncertain page counts as "not an
    # article" here: a researcher filtering on page_type == "article" would not see it
    stored = result.not_article is None and article.page_type in ("article", "liveblog")
    return Outcome(
        article.text if stored else "",
        article.date,
        article.title,
        article.author,
        article.language,
        stored,
    )


def plain_trafilatura(**options: Any) -> Callable[[bytes, str], Outcome]:
    def run(html: bytes, url: str) -> Outcome:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, **options)
        if doc is None:
            return Outcome("", None, None, None, None, False)
        text = doc.text or ""
        return Outcome(text, doc.date, doc.title, doc.author, doc.language, bool(text))

    return run


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def score(extractor: Callable[[bytes, str], Outcome], fixtures: list[dict[str, Any]]) -> Score:
    result = Score()
    for entry in fixtures:
        started = time.perf_counter()
        outcome = extractor(entry["html"], entry["url"])
        result.seconds += time.perf_counter() - started
        result.pages += 1
        text = " ".join(outcome.text.split())
        for snippet in entry["must_contain"]:
            if " ".join(snippet.split()) in text:
                result.tp += 1
            else:
                result.fn += 1
        result.fp += sum(1 for s in entry["must_not_contain"] if " ".join(s.split()) in text)
        is_article = entry["kind"] == "article"
        result.check("page type", outcome.is_article == is_article)
        if is_article:
            result.check("date", (outcome.date or "")[:10] == (entry["date"] or ""))
            result.check("title", _norm(outcome.title) == _norm(entry["title"]))
            result.check("author", _norm(outcome.author) == _norm(entry["author"]))
            result.check("language", (outcome.language or "") == entry["language"])
    return result


EXTRACTORS: dict[str, Callable[[bytes, str], Outcome]] = {
    "ours": ours,
    "trafilatura": plain_trafilatura(),
    "traf precision": plain_trafilatura(favor_precision=True),
    "traf recall": plain_trafilatura(favor_recall=True),
    # ours runs trafilatura with fast=True (our pruning replaces its fallbacks): shown so the
    # cost of our own rules is visible too
    "traf fast": plain_trafilatura(fast=True),
}


def run(repeat: int, folder: Path = FIXTURES) -> dict[str, Score]:
    """Quality from the first round; time from `repeat` rounds after that warm-up round, the
    extractors interleaved so that machine noise hits them all alike."""
    fixtures = load_fixtures(folder)
    scores = {name: score(fn, fixtures) for name, fn in EXTRACTORS.items()}
    for score_ in scores.values():
        score_.seconds = score_.pages = 0
    for _ in range(repeat):
        for name, fn in EXTRACTORS.items():
            timed = score(fn, fixtures)
            scores[name].seconds += timed.seconds
            scores[name].pages += timed.pages
    return scores


def report(scores: dict[str, Score], pages: int) -> str:
    names = list(scores)
    rows = [
        ("precision", lambda s: f"{s.precision:.3f}"),
        ("recall", lambda s: f"{s.recall:.3f}"),
        ("F1", lambda s: f"{s.f1:.3f}"),
        ("boilerplate kept", lambda s: str(s.fp)),
        *[
            (f"{check} accuracy", lambda s, c=check: f"{s.accuracy(c):.3f}")
            for check in ("date", "title", "author", "language", "page type")
        ],
        ("ms per page", lambda s: f"{1000 * s.seconds / s.pages:.2f}"),
    ]
    width = max(len(n) for n in names) + 2
    lines = [f"{pages} fixture pages, {len(names)} extractors", ""]
    lines.append(f"{'':22}" + "".join(f"{n:>{width}}" for n in names))
    for label, fmt in rows:
        lines.append(f"{label:22}" + "".join(f"{fmt(scores[n]):>{width}}" for n in names))
    base = scores["trafilatura"]
    speed = (scores["ours"].seconds / scores["ours"].pages) / (base.seconds / base.pages)
    lines += ["", f"ours / trafilatura time per page: {speed:.2f}x (target <= 1.20x)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds over the fixtures (speed)")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder with expected.json")
    parser.add_argument("--pages", type=Path, default=newsbench.DEFAULT_PAGES, help="newsbench")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over newsbench")
    args = parser.parse_args(argv)
    if (args.pages / "pages.jsonl").exists():
        print(newsbench.report(*newsbench.run(args.pages, args.rounds)), end="\n\n")
    else:
        print(f"no newsbench at {args.pages}: real-page part skipped\n")
    scores = run(max(1, args.repeat), args.fixtures)
    print(report(scores, len(load_fixtures(args.fixtures))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
