"""Deduplication: which threshold, how fast, how much memory.

    python bench/dedup_threshold.py [--articles 20000] [--words 500] [--skip-memory]

1. On tests/fixtures/syndication (see its cases.json): for each threshold, precision / recall /
   F1 over article pairs (a pair is positive when both are labelled copies of one story), whether
   the labelled clusters come out exactly, and how many articles get another kind than expected.
   Also the exact shingle-set Jaccard of the least similar true pair and the most similar false
   pair, which brackets the thresholds that can work at all.
2. Throughput of ``Deduplicator.add`` (and of ``result``) on synthetic ~500-word articles, a tenth
   of them edited copies of another (trimmed, a line inserted, a span rewritten), with the share
   of those planted copies found and of false merges.
3. Memory kept per article (tracemalloc), against datasketch's ``MinHashLSH`` holding the same
   signatures with the same bands.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.dedup import Deduplicator, normalise_text  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "syndication"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def load_fixture_articles() -> list[dict]:
    cases = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
    articles = [article for case in cases for article in case["articles"]]
    for article in articles:
        article["text"] = (FIXTURES / "texts" / f"{article['id']}.txt").read_text("utf-8")
    return articles


def shingles(text: str, k: int) -> set[str]:
    words = normalise_text(text).split()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def fixture_sweep(shingle_words: int) -> None:
    articles = load_fixture_articles()
    label = {a["id"]: a["cluster"] for a in articles}
    pairs = list(itertools.combinations(sorted(label), 2))
    positive = {pair for pair in pairs if label[pair[0]] == label[pair[1]]}
    sets = {a["id"]: shingles(a["text"], shingle_words) for a in articles}
    jaccard = {(a, b): len(sets[a] & sets[b]) / len(sets[a] | sets[b]) for a, b in pairs}
    low_true = min(positive, key=jaccard.get)
    high_false = max(set(pairs) - positive, key=jaccard.get)
    print(
        f"fixtures: {len(articles)} articles, {len(set(label.values()))} expected clusters, "
        f"{len(positive)} true pairs of {len(pairs)}; shingles of {shingle_words} words"
    )
    print(f"  least similar true pair:  {jaccard[low_true]:.3f} {low_true}")
    print(f"  most similar false pair:  {jaccard[high_false]:.3f} {high_false}")
    print()
    print("threshold  bands x rows  precision  recall     F1  clusters exact  wrong kinds")
    for threshold in THRESHOLDS:
        dedup = Deduplicator(threshold=threshold, shingle_words=shingle_words)
        for article in articles:
            dedup.add(article["id"], article["text"], (article["published"], article["url"]))
        infos = dedup.result()
        predicted = {(a, b) for a, b in pairs if infos[a].cluster_id == infos[b].cluster_id}
        true_positive = len(predicted & positive)
        precision = true_positive / len(predicted) if predicted else 1.0
        recall = true_positive / len(positive)
        f1 = 2 * precision * recall / (precision + recall) if true_positive else 0.0
        wrong = sum(infos[a["id"]].kind != a["expect"] for a in articles)
        print(
            f"{threshold:9.2f}  {dedup.bands:5d} x {dedup.rows:<4d}  {precision:9.3f}  "
            f"{recall:6.3f}  {f1:5.3f}  {predicted == positive!s:>14}  {wrong:11d}"
        )
    print()


def synthetic_articles(count: int, words: int, seed: int = 7) -> Iterator[tuple[str, str, str]]:
    """(record id, text, id of the article it copies or "") for ``count`` articles."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(30_000)]
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    originals: list[tuple[str, list[str]]] = []
    for number in range(count):
        record_id = f"a{number:07d}"
        if originals and rng.random() < 0.1:  # an edited copy of an earlier article
            source_id, source = rng.choice(originals[-2000:])
            copy = source[: int(len(source) * rng.uniform(0.75, 1.0))]  # trimmed end
            at = rng.randrange(len(copy))
            # a "Read more: ..." line inserted, then a sentence rewritten
            copy[at:at] = rng.choices(vocabulary, cum_weights=weights, k=10)
            at = rng.randrange(len(copy) - 15)
            copy[at : at + 15] = rng.choices(vocabulary, cum_weights=weights, k=15)
            yield record_id, " ".join(copy), source_id
        else:
            text = rng.choices(vocabulary, cum_weights=weights, k=words)
            originals.append((record_id, text))
            yield record_id, " ".join(text), ""


def throughput(count: int, words: int) -> None:
    articles = list(synthetic_articles(count, words))
    dedup = Deduplicator()
    started = time.perf_counter()
    for record_id, text, _ in articles:
        dedup.add(record_id, text, (record_id,))
    added = time.perf_counter() - started
    started = time.perf_counter()
    infos = dedup.result()
    resulted = time.perf_counter() - started
    copies = [(r, source) for r, _, source in articles if source]
    found = sum(infos[r].cluster_id == infos[source].cluster_id for r, source in copies)
    originals = [r for r, _, source in articles if not source]
    clusters_of_originals = {infos[r].cluster_id for r in originals}
    print(
        f"throughput: {count} synthetic articles of ~{words} words, {len(copies)} edited copies; "
        f"threshold {dedup.threshold}, {dedup.num_perm} permutations, "
        f"{dedup.shingle_words}-word shingles"
    )
    print(f"  add:    {added:6.1f} s  {count / added:7.0f} articles/s")
    print(f"  result: {resulted:6.1f} s  (banding {dedup.bands} x {dedup.rows}, verification)")
    print(f"  planted copies found: {found}/{len(copies)}")
    print(f"  originals merged with each other: {len(originals) - len(clusters_of_originals)}")
    print()


def memory(count: int, words: int) -> None:
    tracemalloc.start()
    dedup = Deduplicator()
    baseline = tracemalloc.get_traced_memory()[0]
    for record_id, text, _ in synthetic_articles(count, words, seed=11):
        dedup.add(record_id, text, (record_id,))
    kept = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    print(f"memory kept after {count} adds (record ids, ranks, hashes, signatures, union-find):")
    print(f"  Deduplicator:             {kept / count:6.0f} bytes/article")
    print(f"  (the ~{words}-word texts themselves: ~{words * 7} bytes/article)")

    from datasketch import MinHash, MinHashLSH  # the alternative: its index, same bands

    signatures = dedup._signatures[: dedup._sig_count]
    minhash = MinHash(num_perm=dedup.num_perm)
    tracemalloc.start()
    lsh = MinHashLSH(num_perm=dedup.num_perm, params=(dedup.bands, dedup.rows))
    baseline = tracemalloc.get_traced_memory()[0]
    for row, values in enumerate(signatures):
        minhash.hashvalues = values
        lsh.insert(row, minhash, check_duplication=False)
    lsh_bytes = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    print(f"  datasketch MinHashLSH:    {lsh_bytes / len(signatures):6.0f} bytes/article more")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--words", type=int, default=500)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    for shingle_words in (5, 3, 7):
        fixture_sweep(shingle_words)
    throughput(args.articles, args.words)
    if not args.skip_memory:
        memory(min(args.articles, 5_000), args.words)


if __name__ == "__main__":
    main()
