"""The dataset card (README.md) written beside every export: what is in it, where it came from,
how it was built and how to load it. YAML front matter in the Hugging Face dataset-card form."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from corpus.card_columns import columns_table, loading
from corpus.catalog import human_size, plural
from corpus.citation import Credits, authors_note, citation, quoted
from corpus.export import ExportSummary

CARD_NAME = "README.md"

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


SKIP_REASON = "no manifest: still running, killed and not yet repaired, or not pushed to S3"

LIMITATIONS = """\
- Coverage is what the crawl reached: its seeds, link depth, robots.txt and the sites' own
  blocking decide it; an absent article was not necessarily never published.
- Texts come from heuristics (trafilatura and the project's rules): some boilerplate may
  remain, and some paragraphs may be lost. Each row points at its WARC record: check there.
- `page_type` other than article (live blogs, listings, paywalled teasers) and undated
  articles are included; filter on them as your study needs.
- Dates are what the pages state. `pub_date` is the publication's local day; a page that
  gives only a day has `pub_date` but no `date`.
- Duplicate detection is approximate: copies below the similarity threshold stay, and
  `record_id` changes when a page's text changes (or when a run is extracted again)."""


def _runs(summary: ExportSummary) -> str:
    lines = []
    for run in summary.runs:
        manifest = run.manifest or {}
        software = ", ".join(f"{k} {v}" for k, v in manifest.get("software", {}).items())
        made_by = "the crawl" if run.text_version == 1 else "`scrapy corpus reextract`"
        lines.append(
            f"- `{run.prefix}` ({run.state}): {_counted(run.articles or 0, 'article')}, started "
            f"{manifest.get('started_at')}, software {software or 'not recorded'}; rows from "
            f"its text v{run.text_version} (`{run.text_folder}/`, made by {made_by})"
        )
    return "\n".join(lines)


def _counted(count: int, word: str) -> str:
    return f"{count} {plural(count, word)}"


def _scope(summary: ExportSummary) -> str:
    """What each run was allowed to fetch, as its manifest records it."""
    lines = []
    for run in summary.runs:
        manifest = run.manifest or {}
        settings = manifest.get("settings") or {}
        scope = manifest.get("scope") or {}
        seeds = scope.get("seeds") or manifest.get("seeds")
        robots = settings.get("ROBOTSTXT_OBEY")
        depth = settings.get("DEPTH_LIMIT")
        lines.append(
            f"- `{run.prefix}`: seeds {', '.join(map(str, seeds)) if seeds else 'not recorded'}; "
            f"link depth {'unlimited' if depth in (0, '0') else depth}; robots.txt "
            f"{'obeyed' if robots in (True, 'True', 'true', '1') else 'not recorded' if robots is None else 'ignored'}; "  # noqa: E501
            f"user agent `{settings.get('USER_AGENT') or 'not recorded'}`"
        )
    return "\n".join(lines)


def _selection(summary: ExportSummary) -> str:
    if summary.selection is None:
        return "every record of the runs below that matches the filters of the command"
    name, records = summary.selection
    return (
        f"only the {_counted(records, 'record')} listed in the source's `{name}` (the records "
        "`corpus get` matched when it made this mirror), and of them those that match the "
        "filters of the command"
    )


def _skipped(skipped: list[str]) -> str:
    if not skipped:
        return "None: every run that could match the filters had a manifest and was read."
    return "\n".join(f"- `{prefix}`: {SKIP_REASON}" for prefix in skipped)


# what the identifier is a digest of, in words: `sha256sum -c` lines, one a file
FINGERPRINT_OF = (
    "sha256 of the dataset's checksum list (## Files): one `sha256sum` line a file, sorted by path"
)


def dataset_card(
    summary: ExportSummary,
    command: str,
    source: str,
    settings: dict[str, Any],
    skipped: list[str] | None = None,
    credits: Credits | None = None,
) -> str:
    credits = credits or Credits()
    title = credits.title_for(summary.dates)
    languages = sorted(summary.languages)
    span = " to ".join(summary.dates) if summary.dates else "no dated articles"
    now = datetime.now(UTC)
    files = "\n".join(
        f"| `{name}` | {human_size(size)} | `{summary.sha256.get(name, '')}` |"
        for name, size in summary.files.items()
    )
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(summary.sha256.items()))
    fingerprint = hashlib.sha256(listing.encode()).hexdigest()
    dropped = "kept and marked" if summary.kept_duplicates else "dropped"
    return f"""---
pretty_name: {quoted(title)}
license: other
language: [{", ".join(languages)}]
task_categories: [text-generation, text-classification]
size_categories: [{_size_category(summary.exported)}]
---

# {title}

{_counted(summary.exported, "article")} from {_counted(len(summary.domains), "domain")} in \
{_counted(len(languages), "language")}, published {span} ({summary.undated} undated).
Exported {now:%Y-%m-%d %H:%M} UTC as {summary.format} by newsarchiver {version("newsarchiver")}.

{authors_note(credits)}

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
- records read: {_selection(summary)}
- runs:
{_runs(summary)}

### Crawl scope

{_scope(summary)}

### Runs skipped

{_skipped(skipped or [])}

## Limitations

{LIMITATIONS}

## Files

Paths are relative to this card. Check them with `sha256sum -c` on the lines below (one a
file, sorted by path: the dataset's identifier in the citation is the sha256 of this list).

| file | size | sha256 |
|---|---:|---|
{files}

```
{listing.rstrip()}
```

## Columns

{columns_table(summary)}

## Loading

From this folder:

```python
{loading(summary)}
```

## Citation

Cite one article by its `record_id` (sha256 of its canonical URL and text, 32 hex digits: the
same in every export that holds that text) together with this dataset:

```yaml
{citation(credits, summary.dates, f"{now:%Y-%m-%d}", fingerprint, FINGERPRINT_OF).rstrip()}
```
"""


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):  # fmt: skip
        if rows < limit:
            return name
    return "n>1M"
