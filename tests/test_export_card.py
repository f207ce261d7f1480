"""Issue #24, items 6-8, through `scrapy corpus get|export` on a real crawl (the dated stories of
tests/test_dates_export.py: offsets +02:00, -05:00 and Z):

- the card's JSON Lines snippet, run as written from the card's folder, types every column
  (`date` keeps the page's offset, `date_utc` is a TIMESTAMPTZ, all-null columns stay VARCHAR);
- the card's column table is the schema of the Parquet files written, as pyarrow reads them;
- exporting a mirror that `get` made with record filters exports only the selected records."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.test_corpus import corpus
from tests.test_dates_export import EXPECTED, PUBLISHED, Dated, dated  # noqa: F401

pytestmark = pytest.mark.slow

# DuckDB's own names for the aliases a snippet may use
DUCKDB_ALIASES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def export(dated: Dated, name: str, *args: str, archive: Path | None = None) -> tuple[Path, str]:  # noqa: F811
    out = dated.tmp / name
    got = corpus("export", str(archive or dated.archive), "--out", str(out), *args)
    assert got.returncode == 0, got.stderr[-3000:]
    return out, got.stdout


def card_columns(card: str) -> list[tuple[str, str]]:
    """(column, type) rows of the card's `## Columns` table."""
    table = card.split("\n## Columns\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", table, re.M)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_card_jsonl_snippet_types_every_column_and_keeps_the_offset(
    dated: Dated,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, _ = export(dated, "jsonl-card", "--format", "jsonl")
    card = (out / "README.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"\n## Loading\n.*?```python\n(.*?)```", card, re.S)
    monkeypatch.chdir(out)  # the card says: from this folder
    scope: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), scope)  # as written
    relations = [v for v in scope.values() if isinstance(v, duckdb.DuckDBPyRelation)]
    assert relations, "the card's snippet gives no DuckDB relation of the articles"
    (articles,) = [r for r in relations if "date_utc" in r.columns]
    types = dict(zip(articles.columns, map(str, articles.types), strict=True))
    assert types["date"] == "VARCHAR"  # the page's text, offset and all
    assert types["date_utc"] == types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["pub_date"] == "DATE"
    assert types["duplicate"] == types["page_type_reason"] == "VARCHAR"  # all null: not JSON
    assert types["tags"] == "VARCHAR[]" and types["warc_offset"] == "BIGINT"
    # the card's table lists the types the snippet gives
    assert [(n, DUCKDB_ALIASES.get(t, t)) for n, t in card_columns(card)] == list(types.items())
    rows = articles.select("url, date, date_utc, pub_date").fetchall()
    found = {path_of(url): (date, utc, day) for url, date, utc, day in rows}
    for path, (date, day, instant) in EXPECTED.items():
        got_date, got_utc, got_day = found[path]
        assert got_date == date and got_day == day and got_utc == instant
    assert found["/news/east/"][0].endswith("+02:00") and found["/news/west/"][0].endswith("-05:00")


def test_card_column_table_is_the_written_parquet_schema(dated: Dated) -> None:  # noqa: F811
    out, _ = export(dated, "parquet-card")
    card = (out / "README.md").read_text(encoding="utf-8")
    files = sorted((out / "data").rglob("*.parquet"))
    schemas = {str(pq.read_schema(f)) for f in files}
    assert len(schemas) == 1  # every file has the one schema
    schema = pq.read_schema(files[0])
    assert card_columns(card) == [(f.name, str(f.type)) for f in schema]
    assert ("date_utc", "timestamp[ms, tz=UTC]") in card_columns(card)  # what Parquet holds


def exported_urls(out: Path) -> list[str]:
    with gzip.open(out / "data" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        return sorted(path_of(json.loads(line)["url"]) for line in handle)


@pytest.fixture(scope="module")
def mirror(dated: Dated) -> Path:  # noqa: F811
    """A mirror of the stories published on 2025-11-24 (local day): /news/east/ only."""
    dest = dated.tmp / "mirror"
    got = corpus(
        "get", str(dated.archive), "--dest", str(dest), "--no-progress",
        "--since", "2025-11-24", "--until", "2025-11-24",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    with gzip.open(dest / "selection.jsonl.gz", "rt", encoding="utf-8") as handle:
        assert [path_of(json.loads(line)["url"]) for line in handle] == ["/news/east/"]
    (shard,) = dest.rglob("text/*.jsonl.gz")
    with gzip.open(shard, "rt", encoding="utf-8") as handle:  # the whole shard was copied
        assert sum(1 for _ in handle) == len(PUBLISHED) + 1
    return dest


def test_export_of_a_filtered_mirror_exports_only_the_selection(
    dated: Dated,  # noqa: F811
    mirror: Path,
) -> None:
    out, stdout = export(dated, "selected", "--format", "jsonl", archive=mirror)
    assert exported_urls(out) == ["/news/east/"]
    assert "selection.jsonl.gz" in stdout and "--ignore-selection" in stdout
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "only the 1 record listed in the source's `selection.jsonl.gz`" in card


def test_export_of_a_mirror_can_ignore_its_selection(dated: Dated, mirror: Path) -> None:  # noqa: F811
    out, stdout = export(dated, "everything", "--format", "jsonl", "--ignore-selection",
                         archive=mirror)  # fmt: skip
    assert exported_urls(out) == sorted({"/news/good-story/", *PUBLISHED})
    assert "selection.jsonl.gz" not in stdout
