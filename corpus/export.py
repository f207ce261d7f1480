"""`scrapy corpus export`: one deduplicated dataset of articles, as JSON Lines or Parquet.

Three streaming passes over the text shards, so memory holds per-article keys, never texts:
1. the same article fetched by several runs (one canonical URL) is one row: its latest text,
   from the first fetch that had that text (a later identical fetch is archived as a WARC
   revisit record, so the first one's pointer leads to the response bytes);
2. the survivors go through exact and near-duplicate detection (corpus.dedup);
3. rows are written with their cluster id; duplicates are dropped unless kept.
Data goes under `<out>/data/`, the dataset card to `<out>/README.md` (the Hugging Face layout;
readers given `data/` never trip over the card). Parquet goes one folder a publication day
(`data/2026-11-24/part-0.parquet`, undated articles under `data/undated/`), and every file keeps
its `pub_date` column typed date32: hive folders (`pub_date=...`) would move the column into the
path, where pandas reads it back as strings.

Dates follow corpus.dates: `date` and `date_modified` keep the source's offset (ISO 8601 strings,
null when the page gives only a day), `date_utc` is the same instant typed as a UTC timestamp,
`pub_date` the publication's local day; JSON Lines writes them in the same ISO shapes
(`2026-11-24T00:30:00+02:00`, `2026-11-24`), which DuckDB's read_json types by itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from corpus.catalog import RunEntry
from corpus.dates import iso_moment, local_day, utc
from corpus.dedup import Deduplicator
from corpus.select import RecordFilter, domain_of, run_records
from corpus.source import CorpusError

FORMATS = ("jsonl", "parquet")
DATA_FOLDER = "data"
JSONL_NAME = "articles.jsonl.gz"
BATCH_ROWS = 2000

SCHEMA = pa.schema([
    ("record_id", pa.string()), ("id", pa.string()), ("url", pa.string()),
    ("canonical_url", pa.string()), ("domain", pa.string()), ("title", pa.string()),
    ("author", pa.string()),
    ("date", pa.string()), ("date_utc", pa.timestamp("s", tz="UTC")), ("pub_date", pa.date32()),
    ("date_modified", pa.string()), ("sitename", pa.string()), ("language", pa.string()),
    ("description", pa.string()), ("tags", pa.list_(pa.string())), ("text", pa.string()),
    ("page_type", pa.string()), ("page_type_reason", pa.string()),
    ("fetched_at", pa.timestamp("s", tz="UTC")), ("status", pa.int16()),
    ("spider", pa.string()), ("run_id", pa.string()), ("warc_key", pa.string()),
    ("warc_record_id", pa.string()), ("warc_offset", pa.int64()),
    ("cluster_id", pa.string()), ("duplicate", pa.string()), ("duplicate_of", pa.string()),
])  # fmt: skip
COLUMNS = SCHEMA.names
DAY_FOLDER = pa.field("day_folder", pa.string())  # the Parquet folder of a row, not a column
UNDATED_FOLDER = "undated"


@dataclass
class ExportSummary:
    format: str
    out: Path
    runs: list[RunEntry]
    matched: int = 0  # records the filter selected
    url_duplicates: int = 0  # earlier fetches of an article a later run fetched again
    exact: int = 0
    near: int = 0
    clusters: int = 0  # clusters of more than one article
    exported: int = 0
    kept_duplicates: bool = False
    dates: list[str] = field(default_factory=list)  # [earliest, latest] publication day
    undated: int = 0
    domains: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    files: dict[str, int] = field(default_factory=dict)  # written file -> bytes
    sha256: dict[str, str] = field(default_factory=dict)  # written file -> its sha256
    selection: tuple[str, int] | None = None  # the mirror's selection file read, its records


def canonical(record: dict[str, Any]) -> str:
    return record.get("canonical_url") or record["url"]


def text_hash(record: dict[str, Any]) -> bytes:
    return hashlib.sha1((record.get("text") or "").encode("utf-8")).digest()


def fetch_rank(record: dict[str, Any]) -> str:
    return f"{record.get('fetched_at') or ''}\t{record.get('id')}"


def matching(root: Path, runs: list[RunEntry], filt: RecordFilter) -> Iterator[dict[str, Any]]:
    for run in runs:
        for record in run_records(root, run):
            if filt.matches(record):
                yield record


def row(record: dict[str, Any], info: Any) -> dict[str, Any]:
    out = {name: record.get(name) for name in COLUMNS}
    out["page_type"] = record.get("page_type") or "article"  # runs before page types: articles
    out["domain"] = domain_of(record.get("url", ""))
    out["date"] = iso_moment(record.get("date"))
    out["date_utc"] = utc(record.get("date"))
    out["pub_date"] = local_day(record.get("date"))
    out["date_modified"] = iso_moment(record.get("date_modified"))
    out["fetched_at"] = utc(record.get("fetched_at"))
    out["cluster_id"] = info.cluster_id
    out["duplicate"] = None if info.kind in ("unique", "original") else info.kind
    out["duplicate_of"] = info.duplicate_of
    return out


def export(
    root: Path,
    runs: list[RunEntry],
    filt: RecordFilter,
    out: Path,
    fmt: str,
    dedup: Deduplicator,
    keep_duplicates: bool = False,
) -> ExportSummary:
    """Export the matching records of `runs` (text shards under the local `root`) to `out`."""
    if fmt not in FORMATS:
        raise CorpusError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if out.exists() and any(out.iterdir()):
        raise CorpusError(f"{out}: not empty; export into a new folder")
    summary = ExportSummary(fmt, out, runs, kept_duplicates=keep_duplicates)
    latest: dict[str, tuple[str, bytes]] = {}  # canonical URL -> (fetch rank, text hash)
    first: dict[tuple[str, bytes], str] = {}  # (URL, text hash) -> rank of its first fetch
    for record in matching(root, runs, filt):
        summary.matched += 1
        url, rank, text = canonical(record), fetch_rank(record), text_hash(record)
        latest[url] = max(latest.get(url, (rank, text)), (rank, text))
        first[url, text] = min(first.get((url, text), rank), rank)

    def survivors() -> Iterator[dict[str, Any]]:
        for record in matching(root, runs, filt):
            url = canonical(record)
            if first[url, latest[url][1]] == fetch_rank(record):
                yield record

    for record in survivors():
        rank = (record.get("date") or record.get("fetched_at") or "", record["url"])
        dedup.add(record["id"], record.get("text") or "", rank)
    found = dedup.result()
    summary.url_duplicates = summary.matched - len(found)

    def rows() -> Iterator[dict[str, Any]]:
        for record in survivors():
            info = found[record["id"]]
            if info.kind in ("exact", "near"):
                setattr(summary, info.kind, getattr(summary, info.kind) + 1)
                if not keep_duplicates:
                    continue
            elif info.kind == "original":
                summary.clusters += 1
            yield row(record, info)

    data = out / DATA_FOLDER
    data.mkdir(parents=True, exist_ok=True)
    written = (write_parquet if fmt == "parquet" else write_jsonl)(rows(), data, summary)
    for path in written:
        name = path.relative_to(out).as_posix()
        summary.files[name] = path.stat().st_size
        with path.open("rb") as handle:
            summary.sha256[name] = hashlib.file_digest(handle, "sha256").hexdigest()
    return summary


def count(summary: ExportSummary, values: dict[str, Any]) -> None:
    summary.exported += 1
    summary.domains[values["domain"]] += 1
    summary.languages[values.get("language") or "unknown"] += 1
    day = values["pub_date"]
    if day is None:
        summary.undated += 1
        return
    text = day.isoformat() if isinstance(day, date) else str(day)
    low, high = summary.dates or [text, text]
    summary.dates = [min(low, text), max(high, text)]


def iso_json(value: Any) -> str:
    """Dates and times in JSON as ISO 8601 with `T` (str() would write a space)."""
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_jsonl(rows: Iterator[dict[str, Any]], out: Path, summary: ExportSummary) -> list[Path]:
    path = out / JSONL_NAME
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for values in rows:
            count(summary, values)
            handle.write(json.dumps(values, ensure_ascii=False, default=iso_json) + "\n")
    return [path]


def write_parquet(rows: Iterator[dict[str, Any]], out: Path, summary: ExportSummary) -> list[Path]:
    schema = SCHEMA.append(DAY_FOLDER)  # partitioned on a copy of the day: pub_date stays

    def batches() -> Iterator[pa.RecordBatch]:
        chunk: list[dict[str, Any]] = []
        for values in rows:
            count(summary, values)
            day = values["pub_date"]
            chunk.append({**values, DAY_FOLDER.name: day.isoformat() if day else UNDATED_FOLDER})
            if len(chunk) >= BATCH_ROWS:
                yield pa.RecordBatch.from_pylist(chunk, schema=schema)
                chunk = []
        if chunk:
            yield pa.RecordBatch.from_pylist(chunk, schema=schema)

    ds.write_dataset(
        batches(),
        out,
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([DAY_FOLDER])),  # folders named by the day
        basename_template="part-{i}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )
    return sorted(out.rglob("*.parquet"))
