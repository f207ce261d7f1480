"""The dataset card `corpus export` writes (#16), field by field, on a real crawl's archive plus
a run left without manifest; and the stable `record_id` it tells researchers to cite."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shlex
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.test_corpus import corpus, write_run
from tests.test_dates_export import Dated, dated  # noqa: F401  (the module's crawl fixture)


@pytest.fixture(scope="module")
def exported(dated: Dated) -> tuple[Path, str, list[str]]:  # noqa: F811
    archive = dated.tmp / "card-archive"
    shutil.copytree(dated.archive, archive)
    # a run still being written (or killed): its text is there, its manifest is not
    partial = archive / "news" / "run-partial" / "text"
    partial.mkdir(parents=True)
    shutil.copy(next((archive / "news" / "hostile" / "text").glob("*.jsonl.gz")), partial)
    out = dated.tmp / "card"
    args = ["export", str(archive), "--out", str(out), "--language", "en"]
    got = corpus(*args)
    assert got.returncode == 0, got.stderr
    assert "skipped news/run-partial: no manifest" in got.stderr
    return out, (out / "README.md").read_text(encoding="utf-8"), args


def section(card: str, title: str) -> str:
    return card.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0].strip()


def test_card_records_the_exact_command(exported: tuple[Path, str, list[str]]) -> None:
    _, card, args = exported
    assert f"    scrapy corpus {shlex.join(args)}\n" in card


def test_card_paths_are_relative_to_the_card(exported: tuple[Path, str, list[str]]) -> None:
    out, card, _ = exported
    assert "data/data" not in card
    files = re.findall(r"^\| `([^`]+)` \| [^|]+ \| `[0-9a-f]{64}` \|$", card, re.M)
    assert files and sorted(files) == sorted(
        p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet")
    )
    for line in section(card, "## Loading").splitlines():  # the snippet runs from the card's folder
        if line.startswith("duckdb.sql"):
            query = line.split('"')[1]
            assert duckdb.sql(query.replace("'data/", f"'{out}/data/")).fetchall()


def test_card_lists_sha256_of_every_file(exported: tuple[Path, str, list[str]]) -> None:
    out, card, _ = exported
    lines = re.findall(r"^([0-9a-f]{64})  (\S+)$", section(card, "## Files"), re.M)
    written = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    assert sorted(name for _, name in lines) == [p.relative_to(out).as_posix() for p in written]
    for digest, name in lines:
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_card_gives_the_crawl_scope(exported: tuple[Path, str, list[str]], dated: Dated) -> None:  # noqa: F811
    _, card, _ = exported
    manifest = json.loads((dated.archive / "news" / "hostile" / "manifest.json").read_text())
    scope = section(card, "### Crawl scope")
    assert scope.startswith("- `news/hostile`:")
    assert f"user agent `{manifest['settings']['USER_AGENT']}`" in scope
    assert f"link depth {manifest['settings']['DEPTH_LIMIT']}" in scope
    assert "robots.txt obeyed" in scope
    seeds = manifest["scope"]["seeds"]  # the crawl recorded what it was asked to fetch
    assert seeds and manifest["scope"]["seeds_total"] == len(seeds)
    assert f"seeds {', '.join(seeds)};" in scope


def test_card_lists_skipped_runs_and_limitations(exported: tuple[Path, str, list[str]]) -> None:
    _, card, _ = exported
    assert section(card, "### Runs skipped").strip().startswith("- `news/run-partial`: no manifest")
    limits = section(card, "## Limitations")
    for topic in ("robots.txt", "heuristics", "page_type", "pub_date", "record_id"):
        assert topic in limits


def test_card_citation_block_is_citation_cff(exported: tuple[Path, str, list[str]]) -> None:
    _, card, _ = exported
    block = section(card, "## Citation").split("```yaml\n", 1)[1].split("```", 1)[0]
    cff = yaml.safe_load(block)
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset"
    for key in ("title", "message", "date-released", "version", "authors", "identifiers"):
        assert cff[key], key
    lines = re.findall(r"^([0-9a-f]{64})  (\S+)$", card, re.M)  # as `sha256sum` prints them
    listing = "".join(f"{d}  {n}\n" for d, n in sorted(lines, key=lambda line: line[1]))
    assert (
        cff["identifiers"][0]["value"] == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
    )


def test_record_id_is_stable_across_fetches_and_changes_with_the_text(
    exported: tuple[Path, str, list[str]],
    dated: Dated,  # noqa: F811
) -> None:
    out, card, _ = exported
    rows = duckdb.sql(
        f"SELECT record_id, id, canonical_url, text FROM read_parquet('{out}/data/**/*.parquet')"
    ).fetchall()
    assert len({r[0] for r in rows}) == len(rows)
    assert "| `record_id` | string |" in card
    # the same records read again from a second copy of the run: same ids (a re-fetch of
    # unchanged pages), while one changed text gets a new id
    archive = dated.tmp / "card-archive"
    shard = next((archive / "news" / "hostile" / "text").glob("*.jsonl.gz"))
    with gzip.open(shard, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    records[0]["text"] += " A correction was appended."
    refetch = dated.tmp / "refetch"
    write_run(refetch, "again", [{**r, "id": r["id"][::-1]} for r in records])
    got = corpus("get", str(refetch), "--dest", str(dated.tmp / "mirror"), "--language", "en")
    assert got.returncode == 0, got.stderr
    with gzip.open(dated.tmp / "mirror" / "selection.jsonl.gz", "rt") as handle:
        again = {r["canonical_url"]: r["record_id"] for r in map(json.loads, handle)}
    first = {url: rid for rid, _, url, _ in rows}
    changed = records[0]["canonical_url"]
    assert changed in first and again[changed] != first[changed]
    assert {u: again[u] for u in first if u != changed} == {
        u: rid for u, rid in first.items() if u != changed
    }
