"""The runs an archive holds, read from their manifests (`scrapy corpus ls`).

A run folder without manifest.json is listed too, as incomplete: still running, killed before
its end, or with files waiting in an S3 spool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.corpus.source import ArchiveSource

MANIFEST_NAME = "manifest.json"
FIRST_TEXT_FOLDER = "text"  # text version 1: what the crawl wrote (`corpus reextract` adds more)


def current_text_folder(manifest: dict[str, Any] | None) -> str:
    """The folder of a run's current text version: `text` until `corpus reextract` ran."""
    manifest = manifest or {}
    current = manifest.get("text_version")
    for entry in manifest.get("text_versions") or []:
        if entry.get("version") == current and entry.get("folder"):
            return str(entry["folder"])
    return FIRST_TEXT_FOLDER


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
        return sum(f.get("size") or 0 for f in self.files)

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
            "published_from": self.content.get("date_min"),
            "published_to": self.content.get("date_max"),
            "languages": self.content.get("languages", {}),
            "domains": self.content.get("domains", {}),
        }


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


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _languages(counts: dict[str, int], limit: int = 3) -> str:
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{lang} {n}" for lang, n in top[:limit])
    return text + (f", +{len(top) - limit}" if len(top) > limit else "")


def format_runs(runs: list[RunEntry]) -> str:
    """The `ls` table: one line a run and a total."""
    header = ("RUN", "SPIDER", "STARTED (UTC)", "TIME", "STATE", "ARTICLES", "FILES", "SIZE",
              "PUBLISHED", "LANGUAGES", "DOMAINS")  # fmt: skip
    rows = [header]
    for run in runs:
        started = (run.manifest or {}).get("started_at", "")[:16].replace("T", " ")
        seconds = run.duration()
        published = "-"
        if run.content.get("date_min"):
            published = f"{run.content['date_min']}..{run.content['date_max']}"
        rows.append((
            run.run_id, run.spider, started or "-",
            f"{seconds:.0f}s" if seconds is not None else "-", run.state,
            str(run.articles) if run.articles is not None else "-", str(len(run.files)),
            human_size(run.size), published, _languages(run.content.get("languages", {})) or "-",
            str(len(run.content["domains"])) if run.content.get("domains") else "-",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    articles = sum(r.articles or 0 for r in runs)
    lines.append(
        f"{len(runs)} run(s), {articles} articles, {human_size(sum(r.size for r in runs))}"
    )
    return "\n".join(lines)
