"""Files the corpus side adds to a finished local run (`corpus reextract`, `corpus wacz`), and the
lock that keeps two of them from rewriting one run's manifest at once.

Every file of a run is listed in its manifest with size and sha256 (the archive contract): that
list is what `corpus ls` sums and what `corpus get` downloads and verifies, so a file written
after the crawl is only there for researchers once the manifest lists it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from corpus.catalog import MANIFEST_NAME
from corpus.source import CorpusError
from pipelines.manifest import write_manifest
from pipelines.run import Run, file_sha256
from pipelines.storage import FSArchiveStore


@contextmanager
def run_lock(run_dir: Path, run_id: str) -> Iterator[None]:
    """An exclusive flock on the run's folder: a second reextract or wacz of the run is refused
    rather than made to wait, since it would read a manifest the first is about to replace."""
    handle = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError(
                f"run {run_id!r}: another `scrapy corpus reextract` or `wacz` is working on it"
            ) from None
        yield
    finally:
        os.close(handle)  # releases the flock


def writer_run(run_dir: Path) -> Run:
    """A Run for `<root>/<spider>/<run_id>`, whose keys and manifest path are the crawl's."""
    run_dir = run_dir.resolve()
    return Run(run_dir.parent.name, run_dir.name, FSArchiveStore(str(run_dir.parent.parent)))


def file_entry(run: Run, path: Path, records: Any = None) -> dict[str, Any]:
    """A manifest `files` entry, as the crawl writes one for a file it stored locally."""
    return {
        "key": path.resolve().relative_to(run.store.local_root).as_posix(),
        "size": path.stat().st_size,
        "sha256": file_sha256(path),
        "records": records,
        "stored": "archive",
    }


def list_in_manifest(run_dir: Path, paths: list[Path]) -> bool:
    """Add (or update) `paths`, files inside the run's folder, in its manifest, written
    atomically. False when the run has no manifest (still running, or killed and not yet
    repaired): there is no list to add them to, and the crawl's own manifest will not know them.
    Call under run_lock()."""
    manifest_path = run_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    run = writer_run(run_dir)
    entries = {f["key"]: f for f in manifest.get("files", [])}
    for path in paths:
        entry = file_entry(run, path)
        entries[entry["key"]] = entry  # a WACZ made again replaces the old one's entry
    manifest["files"] = sorted(entries.values(), key=lambda f: f["key"])
    write_manifest(run, manifest)
    return True
