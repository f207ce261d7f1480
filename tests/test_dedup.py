"""Exact and near-duplicate detection (corpus/dedup.py) on labelled syndication pairs:
wire stories republished with edits must cluster; same-event stories written independently,
story/update pairs, shared footers and template texts must not (#8)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from corpus.dedup import Deduplicator, lsh_bands, normalise_text

FIXTURES = Path(__file__).parent / "fixtures" / "syndication"


def fixture_articles() -> list[dict[str, Any]]:
    cases = json.loads((FIXTURES / "cases.json").read_text("utf-8"))["cases"]
    articles = [dict(article, case=case["name"]) for case in cases for article in case["articles"]]
    for article in articles:
        article["text"] = (FIXTURES / "texts" / f"{article['id']}.txt").read_text("utf-8")
    return articles


def clusters(dedup: Deduplicator, articles: list[dict[str, Any]]) -> dict[str, Any]:
    for article in articles:
        dedup.add(article["id"], article["text"], (article["published"], article["url"]))
    return dedup.result()


def project_dedup() -> Deduplicator:
    """The Deduplicator as `scrapy corpus export` builds it from the project's settings."""
    from scrapy.utils.project import get_project_settings

    return Deduplicator.from_settings(get_project_settings())


def test_fixture_clusters_and_kinds_are_the_labelled_ones() -> None:
    articles = fixture_articles()
    infos = clusters(project_dedup(), articles)
    by_label: dict[str, set[str]] = {}
    for article in articles:
        by_label.setdefault(article["cluster"], set()).add(infos[article["id"]].cluster_id)
    # one cluster id per label, and no cluster id shared by two labels
    assert all(len(ids) == 1 for ids in by_label.values()), by_label
    assert len({next(iter(ids)) for ids in by_label.values()}) == len(by_label)
    wrong = {a["id"]: (infos[a["id"]].kind, a["expect"]) for a in articles
             if infos[a["id"]].kind != a["expect"]}  # fmt: skip
    assert not wrong, f"(got, expected) kinds: {wrong}"
    syndicated = [a for a in articles if a["expect"] in ("exact", "near")]
    assert len(syndicated) >= 10, "too few syndicated copies in the fixtures to prove anything"
    for article in syndicated:
        info = infos[article["id"]]
        original = next(a for a in articles if a["id"] == info.duplicate_of)
        assert original["cluster"] == article["cluster"] and original["expect"] == "original"
        assert info.similarity is not None and 0 < info.similarity <= 1


def test_false_syndication_stays_apart_even_at_a_lower_threshold() -> None:
    """Independent same-event stories, updates, shared footers and templates are no copies."""
    articles = fixture_articles()
    infos = clusters(Deduplicator(threshold=0.5), articles)
    for article in articles:
        if article["expect"] == "unique":
            assert infos[article["id"]].kind == "unique", article["id"]


def test_too_high_a_threshold_misses_edited_copies() -> None:
    """The fixtures can tell thresholds apart: at 0.95 the trimmed copies are no longer found."""
    infos = clusters(Deduplicator(threshold=0.95), fixture_articles())
    kinds = [info.kind for info in infos.values()]
    assert kinds.count("near") < 5 and kinds.count("exact") == 2


def test_result_does_not_depend_on_the_order_of_adding() -> None:
    articles = fixture_articles()
    first = clusters(Deduplicator(), articles)
    shuffled = articles[:]
    random.Random(3).shuffle(shuffled)
    assert clusters(Deduplicator(), shuffled) == first


def test_settings_choose_threshold_permutations_and_shingles() -> None:
    settings = {
        "CORPUS_DEDUP_THRESHOLD": 0.7,
        "CORPUS_DEDUP_NUM_PERM": 64,
        "CORPUS_DEDUP_SHINGLE_WORDS": 3,
    }
    dedup = Deduplicator.from_settings(Settings(settings))
    assert (dedup.threshold, dedup.num_perm, dedup.shingle_words) == (0.7, 64, 3)
    bands, rows = lsh_bands(0.7, 64)
    assert (dedup.bands, dedup.rows) == (bands, rows) and bands * rows <= 64
    # a pair exactly at the threshold becomes a candidate with probability >= 0.99
    assert 1 - (1 - 0.7**rows) ** bands >= 0.99
    with pytest.raises(ValueError, match="threshold"):
        Deduplicator(threshold=0)


def test_normalisation_ignores_quotes_case_and_spacing_only() -> None:
    assert normalise_text("“It’s  OVER,” she said —\nfinally.") == normalise_text(
        '"it\'s over," She said - finally.'
    )
    assert normalise_text("It is over.") != normalise_text("It is not over.")


def test_short_and_empty_texts_are_compared_exactly_only() -> None:
    dedup = Deduplicator()
    dedup.add("a", "Police closed the road.", ("1",))
    dedup.add("b", "POLICE closed the road!", ("2",))  # exact after normalisation
    dedup.add("c", "Police closed the street.", ("3",))  # short: never a near copy
    dedup.add("d", "", ("4",))
    dedup.add("e", "   ", ("5",))  # empty texts are no copies of each other
    infos = dedup.result()
    assert (infos["a"].kind, infos["b"].kind, infos["b"].duplicate_of) == ("original", "exact", "a")
    assert [infos[i].kind for i in "cde"] == ["unique"] * 3
    with pytest.raises(ValueError, match="added twice"):
        dedup.add("a", "again", ())


def test_clusters_are_transitive_and_keep_the_earliest_copy() -> None:
    words = [f"w{i}" for i in range(400)]
    base = " ".join(words)
    trimmed = " ".join(words[:300])  # ~0.75 of base
    trimmed_more = " ".join(words[100:300])  # ~0.67 of trimmed, ~0.5 of base
    dedup = Deduplicator(threshold=0.6)
    dedup.add("late", base, ("2026-03-03",))
    dedup.add("early", trimmed, ("2026-03-01",))
    dedup.add("chain", trimmed_more, ("2026-03-02",))
    infos = dedup.result()
    assert {info.cluster_id for info in infos.values()} == {"early"}
    assert infos["early"].kind == "original" and infos["late"].duplicate_of == "early"
