"""The dataset card (README.md) written beside every export: what is in it, where it came from,
how it was built and how to load it. YAML front matter in the Hugging Face dataset-card form."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from crawler.corpus.catalog import human_size
from crawler.corpus.export import DATA_FOLDER, JSONL_NAME, SCHEMA, ExportSummary

CARD_NAME = "README.md"

COLUMN_NOTES = {
    "id": "record id (sha256 of URL and fetch time, shortened)",
    "url": "URL fetched",
    "canonical_url": "canonical URL (rel=canonical, normalised); one row per canonical URL",
    "domain": "host of `url` without www.",
    "title": "headline",
    "author": "byline author(s)",
    "date": "publication time (UTC) as the page states it",
    "date_modified": "last-modified time the page states",
    "pub_date": "publication day; the Parquet partition column",
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

LICENCE = (
    "The article texts are the copyrighted work of their publishers. This dataset was made by "
    "crawling publicly available pages for research (text and data mining); check that your "
    "use is covered by the exceptions of your jurisdiction (e.g. EU DSM Directive art. 3/4, "
    "UK CDPA s29A, US fair use) and do not redistribute the texts without permission. The "
    "metadata and the tooling are yours to share."
)


def _table(counts: dict[str, int], header: str, limit: int = 20) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"| {header} | articles |", "|---|---:|"]
    lines += [f"| {name} | {n} |" for name, n in items[:limit]]
    if len(items) > limit:
        lines.append(f"| {len(items) - limit} more | {sum(n for _, n in items[limit:])} |")
    return "\n".join(lines)


def dataset_card(
    summary: ExportSummary, command: str, source: str, settings: dict[str, Any]
) -> str:
    languages = sorted(summary.languages)
    span = " to ".join(summary.dates) if summary.dates else "no dated articles"
    data = f"{summary.out.name}/{DATA_FOLDER}"
    load = (
        f"duckdb.sql(\"SELECT domain, count(*) FROM read_parquet('{data}/**/*.parquet',"
        ' hive_partitioning = true) GROUP BY ALL")\n'
        f"pandas.read_parquet('{data}')"
        if summary.format == "parquet"
        else f"pandas.read_json('{data}/{JSONL_NAME}', lines=True)\n"
        f"duckdb.sql(\"SELECT * FROM read_json_auto('{data}/{JSONL_NAME}')\")"
    )
    runs = "\n".join(
        f"- `{r.prefix}`: {r.articles} articles, started {(r.manifest or {}).get('started_at')}, "
        f"software {', '.join(f'{k} {v}' for k, v in (r.manifest or {}).get('software', {}).items())}"  # noqa: E501
        for r in summary.runs
    )
    files = "\n".join(
        f"- `{DATA_FOLDER}/{name}` ({human_size(size)})" for name, size in summary.files.items()
    )
    columns = "\n".join(
        f"| `{f.name}` | {f.type} | {COLUMN_NOTES.get(f.name, '')} |" for f in SCHEMA
    )
    dropped = "kept and marked" if summary.kept_duplicates else "dropped"
    return f"""---
pretty_name: News articles from {source}
license: other
language: [{", ".join(languages)}]
task_categories: [text-generation, text-classification]
size_categories: [{_size_category(summary.exported)}]
---

# News articles from `{source}`

{summary.exported} articles from {len(summary.domains)} domains in {len(languages)} language(s),
published {span} ({summary.undated} undated). Exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
as {summary.format} by newsarchiver {version("newsarchiver")}.

## Counts

| step | articles |
|---|---:|
| records matching the filters | {summary.matched} |
| earlier fetches of a re-fetched URL (dropped) | {summary.url_duplicates} |
| exact duplicates of another article ({dropped}) | {summary.exact} |
| near duplicates, e.g. syndicated copies ({dropped}) | {summary.near} |
| clusters of copies | {summary.clusters} |
| **rows in this dataset** | **{summary.exported}** |

{_table(dict(summary.domains), "domain")}

{_table(dict(summary.languages), "language")}

## Licence

{LICENCE}

## How it was built

Pages were fetched by the crawl runs below, cleaned of boilerplate with trafilatura and the
project's rules, and archived as WARC files; every row points at its WARC record
(`warc_key`, `warc_offset`, `warc_record_id`), so each text can be checked against the page as
it was served. This dataset was made with:

    {command}

- source archive: `{source}`
- deduplication: exact (normalised-text hash) and near-duplicate (MinHash LSH over word
  shingles): {", ".join(f"{k} = {v}" for k, v in settings.items())}; within a cluster the
  earliest published copy is kept
- runs:
{runs}

## Files

{files}

## Columns

| column | type | meaning |
|---|---|---|
{columns}

## Loading

```python
import duckdb, pandas
{load}
```
"""


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):  # fmt: skip
        if rows < limit:
            return name
    return "n>1M"
