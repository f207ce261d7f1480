"""Judge an extraction change by site: ours after the change, ours before it (a git revision)
and plain trafilatura, scored on real pages in K folds grouped by publisher (newsbench) and by
site (datebench), every fold's delta printed.

    python bench/folds.py                      # the working tree against HEAD, both page sets
    python bench/folds.py --before HEAD~3 --folds 5 --sets newsbench
    python bench/folds.py --after HEAD --before HEAD~1   # two commits, the working tree aside

Every side reads the pages the crawler's way: served from 127.0.0.1 and read back through
`scrapy extract` (../shared/newsbench/score.py's own runner and scorer, loaded from there; the
pages are never copied here). A revision runs from a git worktree of it (the working tree from
here), put first on PYTHONPATH, with this project's virtualenv.

A rule is worth keeping when `after - before` is positive on average over the folds and no fold
loses: it then helps on publishers it was not written on. The verdict line says so per metric.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.newsbench import load_scorer  # noqa: E402

SHARED = ROOT.parent / "shared"
PAGE_SETS = {"newsbench": SHARED / "newsbench", "datebench": SHARED / "datebench"}
METRICS = ("body_f1", "date", "title", "authors", "with", "without")
# A fold that loses more than this is a loss, not noise (one page of 40 moves a mean by 0.025).
TOLERANCE = 0.002


@contextmanager
def revision_tree(revision: str | None):
    """A checkout of ``revision`` (None: the working tree) that runs with this project's
    virtualenv."""
    with tempfile.TemporaryDirectory(prefix="folds-") as tmp:
        tree = ROOT
        if revision is not None:
            tree = Path(tmp) / "tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(tree), revision], check=True)  # fmt: skip
            (tree / ".venv").symlink_to(ROOT / ".venv")
        saved = os.environ.get("PYTHONPATH")
        # the editable install's finder comes after sys.path: the checkout's modules win
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), saved]))
        try:
            yield tree
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
            if tree != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)  # fmt: skip


def fold_of(publisher: str, folds: int) -> int:
    """score.py's own grouping, so both print the same folds."""
    return int(hashlib.sha1(("fold:" + publisher).encode()).hexdigest(), 16) % folds


def fold_scores(
    scorer: ModuleType, rows: list[dict[str, Any]], preds: list[dict[str, Any]], folds: int
) -> list[dict[str, Any]]:
    groups: list[list[int]] = [[] for _ in range(folds)]
    for index, row in enumerate(rows):
        groups[fold_of(row["publisher"], folds)].append(index)
    return [scorer.score([rows[i] for i in g], [preds[i] for i in g]) for g in groups]


def delta(a: dict[str, Any], b: dict[str, Any], metric: str) -> float | None:
    if a[metric] is None or b[metric] is None:
        return None
    return float(a[metric] - b[metric])


def cell(value: float | None) -> str:
    return "      -" if value is None else f"{value:+7.3f}"


def report(name: str, scorer: ModuleType, rows: list[dict[str, Any]],
           sides: dict[str, list[dict[str, Any]]], folds: int) -> list[str]:  # fmt: skip
    totals = {side: scorer.score(rows, preds) for side, preds in sides.items()}
    metrics = [m for m in METRICS if totals["after"]["n_" + m]]
    lines = [f"{name}: {len(rows)} pages, {len({r['publisher'] for r in rows})} publishers/sites",
             f"{'':12}" + "".join(f"{m:>9}" for m in metrics)]  # fmt: skip
    for side, score in totals.items():
        lines.append(f"{side:12}" + "".join(f"{score[m]:9.3f}" for m in metrics))
    per_fold = {side: fold_scores(scorer, rows, preds, folds) for side, preds in sides.items()}
    for versus in ("before", "trafilatura"):
        lines.append(f"fold  pages   after - {versus}")
        changes: dict[str, list[float]] = {m: [] for m in metrics}
        for index in range(folds):
            after, other = per_fold["after"][index], per_fold[versus][index]
            pages = sum(1 for r in rows if fold_of(r["publisher"], folds) == index)
            values = [delta(after, other, m) for m in metrics]
            for metric, value in zip(metrics, values, strict=True):
                if value is not None:
                    changes[metric].append(value)
            lines.append(f"{index:>4} {pages:>6}  " + "".join(f"{cell(v):>9}" for v in values))
        mean = [sum(v) / len(v) if v else None for v in changes.values()]
        lines.append(f"{'mean':>11}  " + "".join(f"{cell(v):>9}" for v in mean))
        if versus == "before":
            verdicts = []
            for metric, values in changes.items():
                if not values or max(map(abs, values)) <= TOLERANCE:
                    continue
                worst = min(values)
                word = "keep" if sum(values) > 0 and worst >= -TOLERANCE else "LOSES"
                verdicts.append(f"{metric} {word} (worst fold {worst:+.3f})")
            lines.append("verdict: " + ("; ".join(verdicts) or "no fold moved"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD", help="git revision to compare against")
    parser.add_argument("--after", help="git revision to judge (default: the working tree)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--sets", default=",".join(PAGE_SETS), help="comma-separated page sets")
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args(argv)
    for name in args.sets.split(","):
        pages = PAGE_SETS.get(name)
        if pages is None or not (pages / "pages.jsonl").exists():
            print(f"folds: no page set {name!r} at {pages}", file=sys.stderr)
            return 2
        scorer = load_scorer(PAGE_SETS["newsbench"])
        rows = scorer.load(str(pages))
        sides = {}
        for side, revision in (("after", args.after), ("before", args.before)):
            with revision_tree(revision) as tree:
                sides[side] = scorer.run_ours(rows, str(tree), args.timeout)
        sides["trafilatura"] = scorer.run_trafilatura(rows, str(ROOT), args.timeout)
        print("\n".join(report(name, scorer, rows, sides, args.folds)) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
