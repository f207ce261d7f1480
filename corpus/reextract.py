"""A new text version of a run, extracted again from its WARCs (corpus.warc_pages).

`reextract_run()` (`scrapy corpus reextract RUN [ARCHIVE]`) writes a new text version of a run:
`<run>/text-v<N>/*.jsonl.gz` beside the crawl's `text/` (version 1), which is never touched.
Every run of it adds a version (v2, v3, ...): each version's files and sha256s stay valid, so
a mirror or a paper that cites one keeps its meaning. The manifest then lists every version's
files, and `text_versions` / `text_version` say which folder each version is, which extractor
made it and which one is current (`RunEntry.text_folder`, `current_text_folder()` for readers).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from corpus.catalog import (
    FIRST_TEXT_FOLDER,
    MANIFEST_NAME,
    RunEntry,
    list_runs,
    plural,
)
from corpus.runfiles import run_lock
from corpus.source import CorpusError, LocalSource
from corpus.warc_pages import WarcScan, extracted, is_warc_path, warc_pages
from pipelines.manifest import ContentSummary, write_manifest
from pipelines.rotating import RotatingFile, RotationLimits
from pipelines.run import Run
from pipelines.storage import FSArchiveStore
from pipelines.text import encode_record, read_shard

with contextlib.suppress(ImportError):  # warcio's br decoding fixed for Google's brotli (#13)
    import crawler.net.encodings  # noqa: F401

logger = logging.getLogger(__name__)

EXTRACTOR_SOFTWARE = ("newsarchiver", "trafilatura", "htmldate", "lxml", "scrapy")


def text_folder(version: int) -> str:
    return FIRST_TEXT_FOLDER if version == 1 else f"{FIRST_TEXT_FOLDER}-v{version}"


# --- a new text version of a run -----------------------------------------------------------------


@dataclass
class ReextractResult:
    prefix: str
    version: int
    folder: str
    previous_version: int
    html_pages: int = 0
    records_before: int = 0
    articles_before: int = 0  # records with page_type "article"
    records_after: int = 0
    articles_after: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    scan: WarcScan = field(default_factory=WarcScan)

    def summary(self) -> str:
        skipped = sum(self.scan.skipped.values())
        before, after = f"v{self.previous_version}", f"v{self.version}"
        return (
            f"{self.prefix}: text {after} written to {self.folder}/ "
            f"({len(self.files)} shard(s)) from {self.html_pages} HTML "
            f"{plural(self.html_pages, 'response')} ({skipped} other "
            f"{plural(skipped, 'response')} skipped): {self.records_after} "
            f"{plural(self.records_after, 'record')} ({before}: {self.records_before}), "
            f"{self.articles_after} {plural(self.articles_after, 'article')} "
            f"({before}: {self.articles_before}); {before} kept, {after} is current"
        )


def source_commit() -> dict[str, Any]:
    """The git commit of the code doing the extraction, and whether the checkout differs from
    it (then the commit alone does not say which extractor ran). Any change counts, untracked
    files too: the text also depends on code outside crawler/extract (WARC decoding in
    corpus.warc_pages, crawler.net.encodings, the record encoder), and a new module is untracked."""
    root = Path(__file__).resolve().parents[1]  # the checkout: corpus/ and crawler/ side by side

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # Installed from a wheel, the code sits in site-packages, which may lie inside some other
    # git checkout (a virtualenv in a project folder): that checkout's commit says nothing
    # about this code, so only a checkout whose top is this very folder counts.
    top = git("rev-parse", "--show-toplevel")
    commit = git("rev-parse", "HEAD") if top and Path(top).resolve() == root else None
    if commit is None:
        return {"commit": None, "dirty": None}
    changes = git("status", "--porcelain")
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def extractor_info() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in EXTRACTOR_SOFTWARE:
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            found[name] = None
    return {**found, **source_commit()}


def find_run(archive: str, run: str, spider: str | None = None) -> tuple[Path, RunEntry]:
    """The local archive's root and one of its runs, by run id (or a run folder)."""
    if archive.startswith("s3://"):
        raise CorpusError(
            f"{archive}: corpus reextract works on local archives only "
            "(`scrapy corpus get ARCHIVE --dest DIR --run RUN --warc`, then reextract in DIR)"
        )
    folder = Path(run)
    if folder.is_dir() and (folder / "warc").is_dir():  # a run folder
        folder = folder.resolve()
        root, run, spider = folder.parent.parent, folder.name, folder.parent.name
    else:
        root = FSArchiveStore(archive).root
    runs = [r for r in list_runs(LocalSource(root), spider) if r.run_id == run]
    if not runs:
        raise CorpusError(f"no run {run!r} in {root}")
    if len(runs) > 1:
        spiders = ", ".join(r.spider for r in runs)
        raise CorpusError(f"run {run!r} exists for several spiders ({spiders}): give --spider")
    return root, runs[0]


def _version_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's text versions; a crawl's manifest gets its version 1 described."""
    if manifest.get("text_versions"):
        return [dict(v) for v in manifest["text_versions"]]
    software = manifest.get("software") or {}
    stats = manifest.get("stats") or {}
    return [{
        "version": 1,
        "folder": FIRST_TEXT_FOLDER,
        "created_at": manifest.get("finished_at"),
        "created_by": "crawl",
        "records": stats.get("text_records"),
        "articles": None,  # filled in from the shards
        "extractor": {
            **{name: software.get(name) for name in EXTRACTOR_SOFTWARE if name in software},
            "commit": None, "dirty": None,  # crawls do not record their commit (yet)
        },
        "settings": {"NEWS_MIN_ARTICLE_CHARS":
                     (manifest.get("settings") or {}).get("NEWS_MIN_ARTICLE_CHARS")},
        "content": manifest.get("content"),
    }]  # fmt: skip


def _shard_keys(manifest: dict[str, Any], prefix: str, folder: str) -> list[str]:
    return sorted(
        f["key"] for f in manifest.get("files", []) if f["key"].startswith(f"{prefix}/{folder}/")
    )


def _count(root: Path, keys: list[str]) -> tuple[int, int]:
    records = articles = 0
    for key in keys:
        if not (root / key).is_file():
            raise CorpusError(f"{root / key}: text shard listed by the manifest is missing")
        for record in read_shard(root / key):
            records += 1
            articles += record.get("page_type", "article") == "article"
    return records, articles


def _next_version(entries: list[dict[str, Any]], run_dir: Path) -> int:
    """After every listed version and every `text-v<N>` folder (one a failed run left)."""
    numbers = {int(e["version"]) for e in entries}
    for path in run_dir.glob(f"{FIRST_TEXT_FOLDER}-v*"):
        if (number := path.name.removeprefix(f"{FIRST_TEXT_FOLDER}-v")).isdigit():
            numbers.add(int(number))
    return max(numbers, default=1) + 1


def reextract_run(
    archive: str,
    run: str,
    *,
    spider: str | None = None,
    min_chars: int = 400,
    shard_records: int = 10_000,
    max_size: int = 0,
    processes: int = 0,
) -> ReextractResult:
    """Write the run's next text version from its WARCs and make it current (see module doc)."""
    root, entry = find_run(archive, run, spider)
    run_dir = root / entry.prefix
    if entry.manifest is None:
        raise CorpusError(
            f"run {entry.run_id!r} has no manifest.json (killed, still running or not pushed): "
            "nothing re-extracted"
        )
    warcs = sorted(p for p in (run_dir / "warc").iterdir() if is_warc_path(p.name))
    if not warcs:
        raise CorpusError(f"run {entry.run_id!r}: no WARC file in {run_dir / 'warc'}")
    if any(run_dir.glob("*/*.open")):
        raise CorpusError(f"run {entry.run_id!r}: files are still being written (*.open)")
    with run_lock(run_dir, entry.run_id):
        return _reextract_locked(
            root, entry, run_dir, warcs, min_chars, shard_records, max_size, processes
        )


def _reextract_locked(
    root: Path,
    entry: RunEntry,
    run_dir: Path,
    warcs: list[Path],
    min_chars: int,
    shard_records: int,
    max_size: int,
    processes: int,
) -> ReextractResult:
    manifest_path = run_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))  # fresh, under the lock
    prefix = entry.prefix
    versions = _version_entries(manifest)
    previous = int(manifest.get("text_version") or 1)
    current = next(v for v in versions if v["version"] == previous)
    if current.get("articles") is None:  # a crawl's version 1: counted once, from its shards
        current["records"], current["articles"] = _count(
            root, _shard_keys(manifest, prefix, current["folder"])
        )
    before = (current["records"], current["articles"])
    version = _next_version(versions, run_dir)
    folder = text_folder(version)
    (run_dir / folder).mkdir()  # claims the version: a leftover folder has a higher number
    result = ReextractResult(prefix, version, folder, previous, records_before=before[0],
                             articles_before=before[1])  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    writer_run = Run(entry.spider, entry.run_id, FSArchiveStore(str(root)))
    shards = RotatingFile(
        writer_run,
        lambda serial: writer_run.key(folder, f"{entry.spider}-{stamp}-{serial:05d}.jsonl.gz"),
        RotationLimits(max_records=shard_records),
    )
    content = ContentSummary()
    other_runs = [p for p in sorted(run_dir.parent.iterdir()) if p.is_dir() and p != run_dir]
    try:
        pages = warc_pages(warcs, result.scan, max_size=max_size, other_runs=other_runs)
        for _page, extraction in extracted(pages, min_chars, processes):
            result.html_pages += 1
            article = extraction.article
            if article is None or extraction.not_article:  # the crawl would not store it
                continue
            # the same bytes as pipelines.text.TextShardPipeline.process_item writes
            shards.stream().write(encode_record(article))
            shards.record_written()
            content.add(article)
            result.records_after += 1
            result.articles_after += article.page_type == "article"
        shards.close()
        if result.scan.errors:
            raise CorpusError("; ".join(result.scan.errors))
    except BaseException:
        shards.close()
        shutil.rmtree(run_dir / folder, ignore_errors=True)  # nothing half-made stays
        raise
    result.files = [{**f, "stored": "archive"} for f in writer_run.files.values()]
    versions.append({
        "version": version,
        "folder": folder,
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": "scrapy corpus reextract",
        "records": result.records_after,
        "articles": result.articles_after,
        "extractor": extractor_info(),
        "settings": {"NEWS_MIN_ARTICLE_CHARS": min_chars},
        "content": content.as_dict(),
        "html_responses": result.html_pages,
        "skipped_responses": dict(sorted(result.scan.skipped.items())),
    })  # fmt: skip
    manifest["files"] = sorted(manifest.get("files", []) + result.files, key=lambda f: f["key"])
    manifest["text_versions"] = versions
    manifest["text_version"] = version
    manifest["content"] = content.as_dict()  # what `ls` and `get` prune runs by: current text
    write_manifest(writer_run, manifest)  # atomically, where manifest_path is
    return result
