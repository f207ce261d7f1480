"""Issue #22: does agreement between independent extractors help body text? Majority votes in the
style of Bevendorff et al.'s web-content-extraction-benchmark (`extractors/ensemble.py`: word
n-grams of the page's whole text kept when >= k extractors keep them) against ours, on
../shared/newsbench (body F1, 5 publisher folds) and ../shared/datebench (with/without, 4 folds),
scored by newsbench's own score.py; time per page measured in interleaved rounds.

Needs Resiliparse, which the project does not depend on: run it from a throw-away virtualenv

    python3.11 -m venv /tmp/ensvenv
    /tmp/ensvenv/bin/pip install -r requirements/runtime.txt   # hashed: resiliparse apart
    /tmp/ensvenv/bin/pip install resiliparse
    PYTHONPATH=. /tmp/ensvenv/bin/python bench/ensemble.py [--rounds 3] [--sets newsbench datebench]

Extractors: ours (crawler.extract, as the crawler runs it), trafilatura (plain `bare_extraction`,
as score.py runs it), readability (trafilatura.readability_lxml), justext (trafilatura's
`try_justext`, all-language stoplist), resiliparse (`extract_plain_text(main_content=True)`).
Votes run over the page's whole visible text (Resiliparse, main_content=False):
  tok  a word is kept when >= k extractors hold the 4-gram ending or starting at it (chatnoir)
  line a line is kept when >= k extractors hold >= half of its 4-grams (short lines: verbatim)
  ours-lone  ours minus its lines that no voter holds (voters: the 4 others, or the 3
             independent ones, plain trafilatura left out since ours runs trafilatura)
  ours+all   ours plus the page's lines that all voters hold and ours lacks
  ... k1     ours alone projected on the page's visible text: the ceiling of any vote
Every ensemble stores a page when ours does (the page-type decision is not in question here).
An ensemble's ms/page is the sum of its members' plus the whole-text pass and the vote itself.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.baseline import basic_cleaning
from trafilatura.external import try_justext
from trafilatura.readability_lxml import Document
from trafilatura.utils import load_html

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.newsbench import load_scorer  # noqa: E402
from crawler.extract import extraction  # noqa: E402

try:
    from resiliparse.extract.html2text import extract_plain_text
except ImportError:
    raise SystemExit("bench/ensemble.py needs resiliparse: see its docstring") from None

SHARED = ROOT.parent / "shared"
FOLDS = {"newsbench": 5, "datebench": 4}
N = 4  # word n-gram size, as the metric
PAD = "\0"
TOLERANCE = 0.002  # as bench/folds.py: one page of 40 moves a fold's mean by 0.025
Answer = tuple[set[tuple[str, ...]], str]  # (padded n-grams, " joined keys ")
WORD = re.compile(r"\w+")
PUNCT = "\"'“”‘’«»„‚()[].,;:!?…-–—/%&*。、，：；！？（）「」『』"


def keys(text: str) -> list[str]:
    """The scorer's tokens: runs of word characters, case-folded."""
    return WORD.findall(text.casefold())


def answer(text: str) -> Answer:
    ks = [PAD] * (N - 1) + keys(text) + [PAD] * (N - 1)
    return {tuple(ks[i : i + N]) for i in range(len(ks) - N + 1)}, " " + " ".join(ks) + " "


def judged(texts: dict[str, str], page: str) -> bool:
    """The page's visible text holds at least half of ours (else ours came from JSON-LD or
    scripts, which no vote over the visible text can judge: the ensemble keeps ours)."""
    grams, page_grams = answer(texts["ours"])[0], answer(page)[0]
    return 2 * len(grams & page_grams) >= len(grams)


def holds(line: list[str], ans: Answer) -> bool:
    """The answer holds at least half of the line's n-grams (a short line: the line itself)."""
    if len(line) < N:
        return bool(line) and " " + " ".join(line) + " " in ans[1]
    grams = [tuple(line[i : i + N]) for i in range(len(line) - N + 1)]
    return 2 * sum(g in ans[0] for g in grams) >= len(grams)


def plain_text(html: str, main: bool) -> str:
    return extract_plain_text(html, main_content=main, list_bullets=False, links=False,
                              alt_texts=False, noscript=False, form_fields=False)  # fmt: skip


# --- extractors: (html, url) -> (stored, text); stored: the text is not empty, for all but ours ---
def ours(html: str, url: str) -> tuple[bool, str]:
    result = extraction.extract(html, url)
    article = result.article
    return (article is not None and result.not_article is None, article.text if article else "")


def plain(html: str, url: str) -> tuple[bool, str]:
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    text = (doc.as_dict().get("text") if doc is not None else None) or ""
    return bool(text), text


def readability(html: str, url: str) -> tuple[bool, str]:
    tree = load_html(html)
    text = plain_text(Document(tree).summary(), main=False) if tree is not None else ""
    return bool(text), text


def justext(html: str, url: str) -> tuple[bool, str]:
    tree = load_html(html)
    body = try_justext(basic_cleaning(tree), url, None) if tree is not None else []
    return len(body) > 0, "\n".join(p.text for p in body if p.text)


def resiliparse(html: str, url: str) -> tuple[bool, str]:
    return True, plain_text(html, main=True)


EXTRACTORS: dict[str, Callable[[str, str], tuple[bool, str]]] = {
    "ours": ours, "trafilatura": plain, "readability": readability, "justext": justext,
    "resiliparse": resiliparse,
}  # fmt: skip
OTHERS = [name for name in EXTRACTORS if name != "ours"]


# --- ensembles: (texts by extractor, page's whole text) -> text ----------------------------------
Combine = Callable[[dict[str, str], str], str]


def token_vote(members: list[str], k: int) -> Combine:
    """chatnoir's vote: a word stays when >= k answers hold the n-gram ending or starting at it;
    kept runs of words are cut from the page's lines with their punctuation."""

    def run(texts: dict[str, str], page: str) -> str:
        if not judged(texts, page):
            return texts["ours"]
        answers = [answer(texts[m])[0] for m in members]
        lines = page.splitlines()
        spans = [(li, m) for li, line in enumerate(lines) for m in WORD.finditer(line)]
        ks = [PAD] * (N - 1) + [m.group().casefold() for _, m in spans] + [PAD] * (N - 1)
        runs: list[list[int]] = []  # [line, start, end]
        kept_before = -2
        for i, (li, match) in enumerate(spans):
            left, right = tuple(ks[i : i + N]), tuple(ks[i + N - 1 : i + 2 * N - 1])
            if sum(left in a or right in a for a in answers) < k:
                continue
            start, end = match.start(), match.end()  # with the punctuation around the word
            start -= len(lines[li][:start]) - len(lines[li][:start].rstrip(PUNCT))
            end += len(lines[li][end:]) - len(lines[li][end:].lstrip(PUNCT))
            if runs and runs[-1][0] == li and kept_before == i - 1:
                runs[-1][2] = end
            else:
                runs.append([li, start, end])
            kept_before = i
        return "\n".join(lines[li][start:end] for li, start, end in runs)

    return run


def line_vote(members: list[str], k: int) -> Combine:
    """A line of the page stays when >= k answers hold it (a repeated line only once)."""

    def run(texts: dict[str, str], page: str) -> str:
        if not judged(texts, page):
            return texts["ours"]
        answers = [answer(texts[m]) for m in members]
        kept, seen = [], set()
        for line in page.splitlines():
            words = tuple(keys(line))
            if words and words not in seen and sum(holds(list(words), a) for a in answers) >= k:
                kept.append(line.strip())
                seen.add(words)
        return "\n".join(kept)

    return run


def ours_edit(drop_lone: bool, add_common: bool, voters: list[str]) -> Combine:
    """Ours minus its lines no voter holds / plus the page's lines all voters hold."""

    def run(texts: dict[str, str], page: str) -> str:
        if not judged(texts, page):
            return texts["ours"]
        others = [answer(texts[m]) for m in voters]
        lines = texts["ours"].splitlines()
        if drop_lone:
            lines = [ln for ln in lines if any(holds(keys(ln), a) for a in others)]
        if add_common:
            mine = answer(texts["ours"])
            lines += [ln for ln in page.splitlines() if ln.strip() and all(
                holds(keys(ln), a) for a in others) and not holds(keys(ln), mine)]  # fmt: skip
        return "\n".join(lines)

    return run


def ensembles() -> dict[str, tuple[list[str], bool, Combine]]:
    """name -> (members, needs the page's whole text, combine)."""
    subsets = {
        "ours+traf+resili": ["ours", "trafilatura", "resiliparse"],
        "ours+read+just": ["ours", "readability", "justext"],
        "all5": list(EXTRACTORS),
    }
    found: dict[str, tuple[list[str], bool, Combine]] = {}
    for style, vote in (("tok", token_vote), ("line", line_vote)):
        found[f"{style} ours k1"] = (["ours"], True, vote(["ours"], 1))  # the vote's ceiling
        for label, members in subsets.items():
            for k in range(2, len(members) + 1):
                found[f"{style} {label} k{k}"] = (members, True, vote(members, k))
    independent = ["readability", "justext", "resiliparse"]  # not trafilatura: ours runs it
    for label, voters in (("others", OTHERS), ("indep", independent)):
        for edit, drop, add in (("-lone", True, False), ("+all", False, True)):
            found[f"ours{edit} {label}"] = (["ours", *voters], True, ours_edit(drop, add, voters))
    return found


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def safe(function: Callable[[str, str], tuple[bool, str]], html: str, url: str) -> tuple[bool, str]:
    try:
        return function(html, url)
    except Exception:  # one extractor failing on one page is that extractor's empty answer
        return False, ""


def run_set(pages: Path, rounds: int) -> dict[str, Any]:
    """Outputs per variant (first round) and ms/page per variant (median of rounds)."""
    scorer = load_scorer(SHARED / "newsbench")  # datebench is scored by the same script
    rows = scorer.load(str(pages))
    for row in rows:
        row["text"] = row["html"].decode("utf-8", "replace")
    combos = ensembles()
    for function in EXTRACTORS.values():  # warm up: imports, language models, stoplists
        safe(function, rows[0]["text"], rows[0]["url"])
    outputs: dict[str, list[dict[str, Any]]] = {n: [] for n in [*EXTRACTORS, *combos]}
    spent: list[dict[str, float]] = []
    for round_ in range(max(1, rounds)):
        cost = dict.fromkeys([*EXTRACTORS, "page", *combos], 0.0)
        for row in rows:
            html, url = row["text"], row["url"]
            texts, stored = {}, False
            for name, function in EXTRACTORS.items():
                (ok, texts[name]), cost_ = timed(safe, function, html, url)
                cost[name] += cost_
                stored = ok if name == "ours" else stored
                if round_ == 0:
                    outputs[name].append({"stored": ok, "text": texts[name]})
            page, cost_ = timed(plain_text, html, False)
            cost["page"] += cost_
            for name, (_, _, combine) in combos.items():
                text, cost_ = timed(combine, texts, page)
                cost[name] += cost_
                if round_ == 0:
                    outputs[name].append({"stored": stored, "text": text})
        for name, (members, whole, _) in combos.items():
            cost[name] += sum(cost[m] for m in members) + (cost["page"] if whole else 0.0)
        spent.append({n: 1000 * c / len(rows) for n, c in cost.items()})
    for out in outputs.values():
        for pred in out:
            pred.update(date=None, title=None, authors=[])
    ms = {n: sorted(r[n] for r in spent)[len(spent) // 2] for n in outputs}
    return {"scorer": scorer, "rows": rows, "outputs": outputs, "ms": ms}


def fold_deltas(result: dict[str, Any], folds: int, metric: str) -> dict[str, list[float]]:
    scorer, rows, outputs = result["scorer"], result["rows"], result["outputs"]
    fold = [int(hashlib.sha1(("fold:" + r["publisher"]).encode()).hexdigest(), 16) % folds
            for r in rows]  # fmt: skip
    deltas: dict[str, list[float]] = {n: [] for n in outputs}
    for i in range(folds):
        idx = [j for j, f in enumerate(fold) if f == i]
        part = [rows[j] for j in idx]
        base = scorer.score(part, [outputs["ours"][j] for j in idx])[metric]
        for name, out in outputs.items():
            value = scorer.score(part, [out[j] for j in idx])[metric]
            deltas[name].append(value - base if value is not None and base is not None else 0.0)
    return deltas


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def report(results: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    wins: dict[str, dict[str, bool]] = {}
    ratio: dict[str, dict[str, float]] = {}
    for set_name, result in results.items():
        scorer, rows, outputs, ms = (result[k] for k in ("scorer", "rows", "outputs", "ms"))
        folds, base_ms = FOLDS[set_name], ms["trafilatura"]
        metrics = ["body_f1"] if set_name == "newsbench" else ["with", "without"]
        deltas = {m: fold_deltas(result, folds, m) for m in metrics}
        totals = {n: scorer.score(rows, out) for n, out in outputs.items()}
        lines += ["", f"{set_name}: {len(rows)} pages, {folds} folds by publisher; "
                  f"delta = variant - ours per fold, then the mean of the folds"]  # fmt: skip
        head = f"{'variant':26}"
        for m in metrics:
            head += f"{m:>8} {'mean':>7}" + "".join(f"{'f' + str(i):>7}" for i in range(folds))
        lines.append(head + f"{'ms/page':>9}{'x traf':>7}")
        for name in outputs:
            row = f"{name:26}"
            for m in metrics:
                d = deltas[m][name]
                row += f"{totals[name][m]:8.3f} {mean(d):+7.3f}" + "".join(f"{x:+7.3f}" for x in d)
            lines.append(row + f"{ms[name]:9.1f}{ms[name] / base_ms:7.2f}")
            beats = all(x > 0 for m in metrics for x in deltas[m][name])
            holds_up = all(x >= -TOLERANCE for m in metrics for x in deltas[m][name]) and all(
                mean(deltas[m][name]) > TOLERANCE for m in metrics)  # fmt: skip
            wins.setdefault(name, {})[set_name] = beats
            wins[name][set_name + " lenient"] = holds_up
            ratio.setdefault(name, {})[set_name] = ms[name] / base_ms
    lines += ["", f"VERDICT (every fold: each fold > 0; lenient: mean > {TOLERANCE}, no fold < "
              f"-{TOLERANCE}; x traf: ms/page over plain trafilatura's, interleaved)"]  # fmt: skip
    for kind, label in (("", "every fold"), (" lenient", "lenient")):
        for set_name in results:
            names = [n for n in wins if n != "ours" and wins[n][set_name + kind]]
            listed = ", ".join(f"{n} ({ratio[n][set_name]:.2f}x traf)" for n in names)
            lines.append(f"  {label:10} {set_name}: {listed or 'none'}")
        both = [n for n in wins if n != "ours" and all(wins[n][s + kind] for s in results)]
        lines.append(f"  {label:10} all sets: {', '.join(both) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median kept)")
    parser.add_argument("--sets", nargs="+", default=list(FOLDS), choices=list(FOLDS))
    args = parser.parse_args(argv)
    results = {}
    for set_name in args.sets:
        pages = SHARED / set_name
        if not (pages / "pages.jsonl").exists():
            print(f"no {set_name} at {pages}: skipped", file=sys.stderr)
            continue
        results[set_name] = run_set(pages, args.rounds)
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
