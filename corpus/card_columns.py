"""The dataset card's column table and loading snippet, from what the export wrote.

Parquet: the types are read back from a written file (`pq.read_schema`), so the card names what
a reader gets: Parquet has no second unit (`timestamp[ms, tz=UTC]`) and pyarrow names a list's
values `element`, whatever the schema handed to the writer said. JSON Lines has no types of its
own: the snippet gives DuckDB every column's type (`read_json(..., columns={...})`), and the card
lists those same types. Left to guess, DuckDB reads `date` as a TIMESTAMP shifted to UTC (the
page's offset lost), `date_utc` without a time zone, and all-null columns as JSON.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.export import DATA_FOLDER, JSONL_NAME, SCHEMA, ExportSummary

COLUMN_NOTES = {
    "record_id": "the id to cite: sha256 of canonical URL and text (stable across re-fetches)",
    "id": "fetch id: this one fetch of the page (a new one every fetch)",
    "url": "URL fetched",
    "canonical_url": "canonical URL (rel=canonical, normalised); one row per canonical URL",
    "domain": "host of `url` without www.",
    "title": "headline",
    "author": "byline author(s)",
    "date": "publication time as the page states it, ISO 8601 with the source's UTC offset "
    "(null when the page gives only a day)",
    "date_utc": "the same instant in UTC, typed (sort and compare on this one)",
    "pub_date": "publication day in the publication's own time zone (the date part of `date`); "
    "the Parquet folder",
    "date_modified": "last-modified time the page states, ISO 8601 with its offset",
    "sitename": "publication name",
    "language": "ISO 639-1 code, declared by the page or detected",
    "description": "standfirst / meta description",
    "tags": "section and keyword tags",
    "text": "article text without boilerplate, paragraphs separated by newlines",
    "page_type": "article, liveblog, listing, video, paywall or uncertain: filter on article",
    "page_type_reason": "why the page type is not plain article (listing_page, too_short, ...)",
    "fetched_at": "time the page was fetched (UTC)",
    "status": "HTTP status of the archived response",
    "spider": "crawler that fetched it",
    "run_id": "crawl run that fetched it",
    "warc_key": "archive key of the WARC file holding the response",
    "warc_record_id": "WARC-Record-ID of the response record",
    "warc_offset": "byte offset of that record in the WARC file",
    "cluster_id": "duplicate cluster (same for all copies of one story)",
    "duplicate": "null for a kept article; exact or near for a copy (only with --keep-duplicates)",
    "duplicate_of": "id of the kept article this one copies",
}

DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.date32(): "DATE",
    pa.int16(): "SMALLINT",
    pa.int64(): "BIGINT",
}


def duckdb_type(kind: pa.DataType) -> str:
    """The DuckDB type a column of the export's schema is read as."""
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_list(kind):
        return duckdb_type(kind.value_type) + "[]"
    return DUCKDB_TYPES[kind]


def written_schema(summary: ExportSummary) -> pa.Schema:
    """The schema of the Parquet files as written (the export's own when it wrote none)."""
    parquet = sorted(name for name in summary.files if name.endswith(".parquet"))
    return pq.read_schema(summary.out / parquet[0]) if parquet else SCHEMA


def column_types(summary: ExportSummary) -> list[tuple[str, str]]:
    """(column, type) as a reader of the files gets them: pyarrow's for Parquet, DuckDB's (as
    the card's snippet reads them) for JSON Lines."""
    if summary.format == "parquet":
        return [(f.name, str(f.type)) for f in written_schema(summary)]
    return [(f.name, duckdb_type(f.type)) for f in SCHEMA]


def columns_table(summary: ExportSummary) -> str:
    reader = "pyarrow" if summary.format == "parquet" else "DuckDB, as read below"
    lines = [f"| column | type ({reader}) | meaning |", "|---|---|---|"]
    lines += [
        f"| `{name}` | {kind} | {COLUMN_NOTES.get(name, '')} |"
        for name, kind in column_types(summary)
    ]
    return "\n".join(lines)


def loading(summary: ExportSummary) -> str:
    """Python that loads the dataset from the card's folder, with DuckDB and with pandas."""
    if summary.format == "parquet":
        files = f"{DATA_FOLDER}/**/*.parquet"
        return (
            "import duckdb, pandas\n"
            f"duckdb.sql(\"SELECT pub_date, count(*) FROM read_parquet('{files}')"
            ' GROUP BY ALL ORDER BY 1")\n'
            f"frame = pandas.read_parquet('{DATA_FOLDER}')  # pub_date: datetime.date values"
        )
    columns = ",\n".join(f"    '{name}': '{kind}'" for name, kind in column_types(summary))
    path = f"{DATA_FOLDER}/{JSONL_NAME}"
    return (
        "import duckdb, pandas\n"
        f'articles = duckdb.sql("""SELECT * FROM read_json(\'{path}\', columns = {{\n'
        f"{columns}\n"
        '})""")  # typed: `date` keeps the page\'s UTC offset, date_utc is the instant\n'
        'articles.aggregate("pub_date, count(*)").order("pub_date").show()\n'
        f"frame = pandas.read_json('{path}', lines=True,\n"
        '                         convert_dates=["pub_date", "date_utc", "fetched_at"],'
        " keep_default_dates=False)"
    )
