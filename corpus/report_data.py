"""What `corpus report` shows, read from a local run folder, and what the folder lacks.

The manifest gives the crawl's own counts; the text shards, the CDXJ index and the file sizes
are read directly, so a run that was killed (no manifest, no index) still gets a report built
from what it left, with each missing part said in words.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corpus.catalog import current_text_folder
from pipelines.index import CDXJ_NAME, cdxj_entries, write_cdxj
from pipelines.storage.s3 import MANIFEST_NAME
from pipelines.text import read_text_records

SAMPLE_ARTICLES = 25  # articles listed by title, in archive order
FILE_KINDS = {"warc": "WARC", "text": "text", "indexes": "index"}
# Kinds the manifest counts with its errors that are the crawl doing what it should: a page
# that is not an article, a request robots.txt forbids (IgnoreRequest) or the address guard
# refuses (RefusedRequest), a page unchanged since the last run (304). Prefixes end with "/".
NOT_STORED_BY_DESIGN = (
    "not_article/", "download/IgnoreRequest", "download/RefusedRequest", "http/304",
)  # fmt: skip


def by_design(kind: str) -> bool:
    return any(kind == k or (k.endswith("/") and kind.startswith(k)) for k in NOT_STORED_BY_DESIGN)


@dataclass
class FileRow:
    name: str  # path inside the run folder
    kind: str  # WARC, text, index, WACZ, unfinished, other
    size: int
    sha256: str | None  # None: no manifest recorded it
    records: Any = None
    state: str = "ok"  # ok, missing, size differs, spool, unfinished


@dataclass
class RunSummary:
    run_dir: Path
    run_id: str
    manifest: dict[str, Any] | None
    missing: list[str] = field(default_factory=list)  # what the folder lacks, in words
    articles: int = 0  # text records in the finished shards
    domains: Counter[str] = field(default_factory=Counter)
    pub_days: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> articles
    fetch_days: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    text_lengths: list[int] = field(default_factory=list)  # characters of each article's text
    sample: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # HTTP status -> captures
    status_source: str | None = None  # where the statuses were read from
    html_pages: int | None = None  # HTML pages fetched (the extraction's input)
    not_article: Counter[str] = field(default_factory=Counter)  # reason -> pages
    errors: Counter[str] = field(default_factory=Counter)  # kind -> count: failures only
    not_stored: Counter[str] = field(default_factory=Counter)  # kind -> count: by design
    files: list[FileRow] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, Any]:
        return (self.manifest or {}).get("stats") or {}

    @property
    def started(self) -> datetime | None:
        started = (self.manifest or {}).get("started_at")
        if started:
            return datetime.fromisoformat(started)
        try:  # run ids start with the UTC start time: 20261125T061126Z-<random>
            return datetime.strptime(self.run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None

    @property
    def finished(self) -> datetime | None:
        finished = (self.manifest or {}).get("finished_at")
        return datetime.fromisoformat(finished) if finished else None

    @property
    def complete(self) -> bool:
        return bool(self.manifest and self.manifest.get("complete")) and not any(
            f.state != "ok" for f in self.files
        )

    def bytes_of(self, kind: str) -> int:
        return sum(f.size for f in self.files if f.kind == kind)


def summarize_run(run_dir: Path) -> RunSummary:
    manifest = _read_manifest(run_dir)
    run_id = (manifest or {}).get("run_id") or run_dir.name
    summary = RunSummary(run_dir, run_id, manifest)
    if manifest is None:
        summary.missing.append(
            "No manifest.json: the run was killed, is still running, or was not pushed yet. "
            "Counts below come from the files in the folder; the crawl's own stats are unknown."
        )
    elif manifest.get("killed"):
        summary.missing.append(
            "The run was killed (SIGKILL or a crash); the next run repaired its files and wrote "
            "this manifest and its index. Scrapy's own stats died with it: counts come from "
            "the files."
        )
    elif not manifest.get("complete"):
        summary.missing.append(
            "The manifest says the run is not complete: some files were still waiting in the "
            "S3 spool when it was written (`scrapy corpus push` uploads them)."
        )
    _read_files(summary)
    _read_articles(summary)
    _read_statuses(summary)
    _read_outcomes(summary)
    return summary


def _read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _kind(name: str) -> str:
    if name.endswith(".open"):
        return "unfinished"
    if name.endswith(".wacz"):
        return "WACZ"
    folder = name.split("/", 1)[0].split("-v", 1)[0]  # text-v2/ (corpus reextract): text too
    return FILE_KINDS.get(folder, "other") if "/" in name else "other"


def _read_files(summary: RunSummary) -> None:
    """The manifest's file list checked against the folder, plus files it does not list."""
    run_dir, listed = summary.run_dir, set()
    prefix = (summary.manifest or {}).get("prefix", "")
    for entry in (summary.manifest or {}).get("files", []):
        name = entry["key"].removeprefix(prefix).lstrip("/")
        listed.add(name)
        path = run_dir / name
        row = FileRow(name, _kind(name), entry["size"], entry["sha256"], entry.get("records"))
        if entry.get("stored") == "spool":
            row.state = "spool"
        elif not path.is_file():
            row.state = "missing"
        elif path.stat().st_size != entry["size"]:
            row.state = "size differs"
        summary.files.append(row)
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        name = path.relative_to(run_dir).as_posix()
        if name in listed or name == MANIFEST_NAME or name.endswith(".tmp"):
            continue
        row = FileRow(name, _kind(name), path.stat().st_size, None)
        row.state = "unfinished" if row.kind == "unfinished" else "not in manifest"
        summary.files.append(row)
    if summary.manifest is None:
        for row in summary.files:  # nothing to compare with: a file present is as good as it gets
            row.state = "unfinished" if row.kind == "unfinished" else "ok"
    bad = [f for f in summary.files if f.state not in ("ok", "not in manifest")]
    if bad:
        summary.missing.append(
            f"{len(bad)} file(s) are unfinished, missing or differ from the manifest "
            "(see the file table); records in unfinished files are not counted here."
        )


def _read_articles(summary: RunSummary) -> None:
    """One pass over the text shards: keep counters and lengths, not the texts."""
    text_dir = summary.run_dir / current_text_folder(summary.manifest)
    if not any(text_dir.glob("*.jsonl.gz")):
        summary.missing.append("No finished text shard (text/*.jsonl.gz): no article to count.")
        return
    for record in read_text_records(text_dir):
        summary.articles += 1
        summary.domains[urlsplit(record.get("url") or "").hostname or "(none)"] += 1
        if record.get("date"):
            summary.pub_days[record["date"][:10]] += 1
        if record.get("fetched_at"):
            summary.fetch_days[record["fetched_at"][:10]] += 1
        summary.languages[record.get("language") or "unknown"] += 1
        chars = len(record.get("text") or "")
        summary.text_lengths.append(chars)
        if len(summary.sample) < SAMPLE_ARTICLES:
            keep = ("title", "url", "date", "language")
            summary.sample.append({**{k: record.get(k) for k in keep}, "chars": chars})
    expected = summary.stats.get("text_records")
    if expected is not None and expected != summary.articles:
        summary.missing.append(
            f"The manifest counts {expected:,} text records; the text shards hold "
            f"{summary.articles:,}."
        )


def _read_statuses(summary: RunSummary) -> None:
    """HTTP status of every capture (responses and revisits), from the run's CDXJ index; a
    run killed before writing it is indexed here from its finished WARC files."""
    index = summary.run_dir / "indexes" / CDXJ_NAME
    if index.is_file():
        _count_statuses(summary, index)
        summary.status_source = f"indexes/{CDXJ_NAME}"
        return
    warcs = sorted((summary.run_dir / "warc").glob("*.warc.gz"))
    if not warcs:
        summary.missing.append(f"No indexes/{CDXJ_NAME} and no finished WARC file: no captures.")
        return
    summary.missing.append(
        f"No indexes/{CDXJ_NAME}: HTTP statuses were indexed from the {len(warcs)} finished "
        "WARC file(s) for this report."
    )
    with tempfile.TemporaryDirectory() as tmp:
        _count_statuses(summary, write_cdxj(warcs, Path(tmp) / CDXJ_NAME))
    summary.status_source = "WARC files"


def _count_statuses(summary: RunSummary, index: Path) -> None:
    html_pages = 0
    for _key, _ts, fields in cdxj_entries(index):
        status = fields.get("status")
        if status:  # metadata records have none
            summary.statuses[status] += 1
            html_pages += status == "200" and fields.get("mime") == "text/html"
    if summary.manifest is None:
        summary.html_pages = html_pages


def _read_outcomes(summary: RunSummary) -> None:
    """Errors by kind, and what was not stored by design (NOT_STORED_BY_DESIGN): the crawl's
    stats, or, without them, the HTTP statuses the captures show."""
    stats = summary.stats
    if summary.manifest is not None:
        summary.html_pages = (stats.get("pages_by_kind") or {}).get("html")
        outcomes = dict(stats.get("errors") or {})
    else:
        outcomes = {
            f"http/{status}": count
            for status, count in summary.statuses.items()
            if status.isdigit() and (int(status) >= 400 or status == "304")
        }
    for kind, count in outcomes.items():
        (summary.not_stored if by_design(kind) else summary.errors)[kind] += count
        if kind.startswith("not_article/"):
            summary.not_article[kind.removeprefix("not_article/")] += count
