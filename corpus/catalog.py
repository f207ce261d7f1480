"""The runs an archive holds, read from their manifests (`scrapy corpus ls`).

A run folder without manifest.json is listed too, as incomplete: still running, killed before
its end, or with files waiting in an S3 spool.

The totals count articles as `corpus export` does, one per canonical URL: a page fetched again
by a later run is one article, so they read the runs' text shards (not the WARCs).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from corpus.source import ArchiveSource

# a run's layout, as the crawl writes it
from pipelines.run import FIRST_TEXT_FOLDER as FIRST_TEXT_FOLDER
from pipelines.run import MANIFEST_NAME as MANIFEST_NAME
from pipelines.run import current_text_folder as current_text_folder


@dataclass
class RunEntry:
    spider: str
    run_id: str
    manifest: dict[str, Any] | None

    @property
    def prefix(self) -> str:
        return f"{self.spider}/{self.run_id}"

    @property
    def files(self) -> list[dict[str, Any]]:
        return list((self.manifest or {}).get("files", []))

    @property
    def state(self) -> str:
        if self.manifest is None:
            return "no manifest"
        if self.manifest.get("killed"):  # finished by repair after a SIGKILL or crash
            return "killed"
        if not self.manifest.get("complete"):
            return "incomplete"
        return "complete"

    @property
    def content(self) -> dict[str, Any]:
        return (self.manifest or {}).get("content") or {}

    @property
    def text_folder(self) -> str:
        return current_text_folder(self.manifest)

    @property
    def articles(self) -> int | None:
        """Records of the current text version (the crawl's, until `corpus reextract`)."""
        manifest = self.manifest or {}
        for entry in manifest.get("text_versions") or []:
            if entry.get("version") == manifest.get("text_version"):
                return entry.get("records")
        return manifest.get("stats", {}).get("text_records")

    @property
    def size(self) -> int:
        """Bytes of the run's own files (WARC, text, indexes), not of the WACZ package that
        holds its WARCs again."""
        return sum(f.get("size") or 0 for f in self.files if not _is_wacz(f))

    @property
    def has_wacz(self) -> bool:
        return any(_is_wacz(f) for f in self.files)

    @property
    def text_version(self) -> int:
        """The number of the current text version (1: the crawl's own, see text_folder)."""
        return int((self.manifest or {}).get("text_version") or 1)

    @property
    def wacz_size(self) -> int:
        return sum(f.get("size") or 0 for f in self.files if _is_wacz(f))

    @property
    def worker_id(self) -> str | None:
        """The scrapy-redis worker that wrote the run (manifest `distributed`), None when the
        run was not part of a distributed crawl."""
        return ((self.manifest or {}).get("distributed") or {}).get("worker_id")

    @property
    def crawl_id(self) -> str | None:
        return ((self.manifest or {}).get("distributed") or {}).get("crawl_id")

    @property
    def text_keys(self) -> list[str]:
        """The text shards of the current text version, as the manifest lists them."""
        folder = f"{self.prefix}/{self.text_folder}/"
        return [f["key"] for f in self.files if f["key"].startswith(folder)]

    def duration(self) -> float | None:
        try:
            start = datetime.fromisoformat(self.manifest["started_at"])  # type: ignore[index]
            end = datetime.fromisoformat(self.manifest["finished_at"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            return None
        return (end - start).total_seconds()

    def summary(self) -> dict[str, Any]:
        """The `ls --json` form."""
        manifest = self.manifest or {}
        return {
            "spider": self.spider,
            "run_id": self.run_id,
            "state": self.state,
            "started_at": manifest.get("started_at"),
            "finished_at": manifest.get("finished_at"),
            "finish_reason": manifest.get("finish_reason"),
            "articles": self.articles,
            "files": len(self.files),
            "bytes": self.size,
            "wacz_bytes": self.wacz_size,
            "published_from": self.content.get("date_min"),
            "published_to": self.content.get("date_max"),
            "languages": self.content.get("languages", {}),
            "domains": self.content.get("domains", {}),
            "worker_id": self.worker_id,
            "crawl_id": self.crawl_id,
        }


def _is_wacz(entry: dict[str, Any]) -> bool:
    return str(entry.get("key", "")).endswith(".wacz")


def list_runs(source: ArchiveSource, spider: str | None = None) -> list[RunEntry]:
    """Every run under `<spider>/<run_id>/`, oldest first (run ids sort by start time)."""
    runs = []
    for spider_name in source.children(""):
        if spider and spider_name != spider:
            continue
        for run_id in source.children(spider_name):
            raw = source.read(f"{spider_name}/{run_id}/{MANIFEST_NAME}")
            manifest = None
            if raw is not None:
                try:
                    manifest = json.loads(raw)
                except ValueError:
                    manifest = None  # a torn manifest: listed as without one
            runs.append(RunEntry(spider_name, run_id, manifest))
    return sorted(runs, key=lambda r: (r.run_id, r.spider))


def _article_keys(source: ArchiveSource, run: RunEntry) -> Iterator[bytes]:
    """A short digest of each article's canonical URL (the URL when it has none), as
    `corpus export` keys articles, from the run's text shards (streamed, never stored)."""
    for key in run.text_keys:
        with source.open_from(key, 0) as stream:
            lines = io.TextIOWrapper(gzip.GzipFile(fileobj=stream), encoding="utf-8")
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    url = record.get("canonical_url") or record.get("url") or ""
                    yield hashlib.blake2b(url.encode(), digest_size=16).digest()


@dataclass
class Distinct:
    total: int  # distinct articles over all the listed runs
    new: dict[str, int]  # run prefix -> its articles no earlier listed run had


def distinct_articles(source: ArchiveSource, runs: list[RunEntry]) -> Distinct:
    """Articles counted once however many runs fetched them (runs oldest first)."""
    seen: set[bytes] = set()
    new: dict[str, int] = {}
    for run in runs:
        if run.manifest is None:  # no list of its shards: its articles are not counted
            continue
        before = len(seen)
        seen.update(_article_keys(source, run))
        new[run.prefix] = len(seen) - before
    return Distinct(len(seen), new)


def plural(count: int, word: str, words: str | None = None) -> str:
    """The form of `word` that goes with `count`: 1 article, 2 articles (`words` when the
    plural is not word + s, e.g. re-fetches)."""
    return word if count == 1 else (words or word + "s")


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def top_counts(counts: dict[str, int], limit: int = 3) -> str:
    """`a 12, b 3, c 1, +4 more`: the largest first, or "-" when there is none."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{name or '(none)'} {n}" for name, n in top[:limit])
    return (text + (f", +{len(top) - limit} more" if len(top) > limit else "")) or "-"


def format_runs(runs: list[RunEntry], distinct: Distinct) -> str:
    """The `ls` table: one line a run, then the totals (articles counted once, see Distinct)."""
    distributed = any(run.worker_id or run.crawl_id for run in runs)
    header = ("RUN", "SPIDER", *(("CRAWL", "WORKER") if distributed else ()), "STARTED (UTC)",
              "TIME", "STATE", "ARTICLES", "NEW", "FILES", "SIZE", "WACZ", "PUBLISHED",
              "LANGUAGES", "DOMAINS")  # fmt: skip
    rows = [header]
    for run in runs:
        started = (run.manifest or {}).get("started_at", "")[:16].replace("T", " ")
        seconds = run.duration()
        published = "-"
        if run.content.get("date_min"):
            published = f"{run.content['date_min']}..{run.content['date_max']}"
        new = distinct.new.get(run.prefix)
        rows.append((
            run.run_id, run.spider,
            *((run.crawl_id or "-", run.worker_id or "-") if distributed else ()),
            started or "-", f"{seconds:.0f}s" if seconds is not None else "-", run.state,
            str(run.articles) if run.articles is not None else "-",
            str(new) if new is not None else "-", str(len(run.files)), human_size(run.size),
            human_size(run.wacz_size) if run.wacz_size else "-", published,
            top_counts(run.content.get("languages", {})),
            top_counts(run.content.get("domains", {})),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    records = sum(r.articles or 0 for r in runs)
    wacz = sum(r.wacz_size for r in runs)
    lines.append(
        f"{len(runs)} run(s): {distinct.total} {plural(distinct.total, 'article')} (one a "
        f"canonical URL: a re-fetch is not counted again; {records} {plural(records, 'record')} "
        f"in all), {human_size(sum(r.size for r in runs))}"
        + (f" + {human_size(wacz)} WACZ packages" if wacz else "")
    )
    return "\n".join(lines)
