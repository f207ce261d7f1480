"""Our extractor against plain trafilatura on ../shared/newsbench: real publishers' pages with
hand-checked answers, scored by that folder's own score.py (loaded from there, never copied),
with time per page measured in interleaved rounds.

    python bench/newsbench.py [--rounds 3] [--pages ../shared/newsbench]

Also run by bench/extraction_quality.py. Columns:
  ours         crawler.extract as the crawler runs it (trafilatura full mode, FAST=False)
  ours fast    the same with trafilatura's fast mode (its fallback extractors off)
  trafilatura  plain `bare_extraction(html, url=url, with_metadata=True)`, as score.py runs it
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.extract import extraction  # noqa: E402

DEFAULT_PAGES = ROOT.parent / "shared" / "newsbench"
METRICS = ("stored", "body_f1", "body_p", "body_r", "date", "title", "authors")


def load_scorer(pages: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("newsbench_score", pages / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no score.py in {pages}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def fast_mode(fast: bool):
    saved, extraction.FAST = extraction.FAST, fast
    try:
        yield
    finally:
        extraction.FAST = saved


def ours(scorer: ModuleType, fast: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def run(row: dict[str, Any]) -> dict[str, Any]:
        with fast_mode(fast):
            result = extraction.extract(row["text"], row["url"])
        article = result.article
        if article is None:
            return {"stored": False, "text": "", "date": None, "title": None, "authors": []}
        return {
            "stored": result.not_article is None,
            "text": article.text,
            "date": article.date,
            "title": article.title,
            "authors": scorer.split_authors(article.author),
        }

    return run


def plain(scorer: ModuleType) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def run(row: dict[str, Any]) -> dict[str, Any]:
        doc = trafilatura.bare_extraction(row["text"], url=row["url"], with_metadata=True)
        found = doc.as_dict() if doc is not None else {}
        return {
            "stored": bool(found.get("text")),
            "text": found.get("text") or "",
            "date": found.get("date"),
            "title": found.get("title"),
            "authors": scorer.split_authors(found.get("author")),
        }

    return run


def run(pages: Path, rounds: int) -> tuple[dict[str, dict[str, Any]], dict[str, float], int]:
    """(scores per extractor, ms per page per extractor, pages). Quality from the first round;
    time per page is the median over ``rounds`` rounds, extractors interleaved page by page
    so that machine noise hits them all alike."""
    scorer = load_scorer(pages)
    rows = scorer.load(str(pages))
    for row in rows:  # as score.py serves and feeds them: UTF-8 text
        row["text"] = row["html"].decode("utf-8", "replace")
    extractors = {
        "ours": ours(scorer, fast=False),
        "ours fast": ours(scorer, fast=True),
        "trafilatura": plain(scorer),
    }
    for function in extractors.values():  # warm up: imports, language model
        function(rows[0])
    outputs: dict[str, list[dict[str, Any]]] = {name: [] for name in extractors}
    timings: dict[str, list[float]] = {name: [] for name in extractors}
    for round_ in range(max(1, rounds)):
        spent = dict.fromkeys(extractors, 0.0)
        for row in rows:
            for name, function in extractors.items():
                started = time.perf_counter()
                output = function(row)
                spent[name] += time.perf_counter() - started
                if round_ == 0:
                    outputs[name].append(output)
        for name in extractors:
            timings[name].append(1000 * spent[name] / len(rows))
    scores = {name: scorer.score(rows, out) for name, out in outputs.items()}
    ms = {name: sorted(values)[len(values) // 2] for name, values in timings.items()}
    return scores, ms, len(rows)


def report(scores: dict[str, dict[str, Any]], ms: dict[str, float], pages: int) -> str:
    names = list(scores)
    header = f"{'':12}" + "".join(f"{n:>13}" for n in names)
    lines = [f"../shared/newsbench: {pages} real pages", header]
    for metric in METRICS:
        cells = "".join(f"{scores[n][metric]:13.3f}" for n in names)
        lines.append(f"{metric:12}{cells}   ({scores[names[0]]['n_' + metric]} pages)")
    lines.append(f"{'ms per page':12}" + "".join(f"{ms[n]:13.1f}" for n in names))
    base, plain_f1 = ms["trafilatura"], scores["trafilatura"]["body_f1"]
    lines += [
        "",
        f"ours / trafilatura time per page: {ms['ours'] / base:.2f}x (target <= 1.50x); "
        f"ours fast: {ms['ours fast'] / base:.2f}x",
        f"body F1 ours - trafilatura: {scores['ours']['body_f1'] - plain_f1:+.4f} "
        f"(target >= +0.020); ours fast: {scores['ours fast']['body_f1'] - plain_f1:+.4f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="newsbench folder")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median kept)")
    args = parser.parse_args(argv)
    if not (args.pages / "pages.jsonl").exists():
        print(f"no newsbench at {args.pages}: skipped", file=sys.stderr)
        return 1
    print(report(*run(args.pages, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
