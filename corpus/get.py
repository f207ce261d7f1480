"""`scrapy corpus get`: the runs and files a filter selects, downloaded into a local mirror.

The mirror keeps the archive's keys (`<dest>/<spider>/<run_id>/...`), so it is itself a local
archive that `corpus ls`, `export` and `report` read. With record filters (dates, domains,
languages) the matching records are also written, exactly, to `<dest>/selection.jsonl.gz`
(which `export` of the mirror then keeps to: the shards hold the other records too);
with `--warc` only the WARC files those records point into are fetched, plus the indexes;
`--wacz` adds each run's WACZ package (which holds its WARCs again).
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from corpus.catalog import MANIFEST_NAME, RunEntry, list_runs
from corpus.fetch import FetchResult, fetch_all
from corpus.select import RecordFilter, run_records, text_files, warc_files
from corpus.source import ArchiveSource, CorpusError, LocalSource, local_target

logger = logging.getLogger(__name__)

SELECTION_NAME = "selection.jsonl.gz"


@dataclass
class GetResult:
    runs: list[RunEntry]
    fetch: FetchResult
    skipped_runs: list[str] = field(default_factory=list)  # no manifest: nothing to verify
    records: int = 0  # matching records
    selection: Path | None = None
    without_wacz: list[str] = field(default_factory=list)  # --wacz, and the run has none


def select_runs(source: ArchiveSource, filt: RecordFilter) -> tuple[list[RunEntry], list[str]]:
    """Runs that may hold matching records, and those skipped for having no manifest."""
    runs = list_runs(source)
    unknown = filt.runs - {r.run_id for r in runs}
    if unknown:
        raise CorpusError(f"{source.uri}: no run {', '.join(sorted(unknown))}")
    chosen, skipped = [], []
    for run in runs:
        if not filt.run_may_match(run):
            continue
        if run.manifest is None:
            skipped.append(run.prefix)
            logger.warning("%s: no manifest (killed, running or not pushed): skipped", run.prefix)
            continue
        chosen.append(run)
    return chosen, skipped


def read_selection(root: Path) -> set[tuple[str, str]] | None:
    """(run id, fetch id) of each record a mirror's selection.jsonl.gz lists: the records
    `get` matched, where it had to copy whole text shards (None: the folder has none)."""
    path = root / SELECTION_NAME
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {(r["run_id"], r["id"]) for r in map(json.loads, filter(str.strip, handle))}


def write_manifest(dest: Path, run: RunEntry) -> None:
    target = local_target(dest, f"{run.prefix}/{MANIFEST_NAME}")
    target.write_text(json.dumps(run.manifest, indent=1) + "\n", encoding="utf-8")


def get(
    source: ArchiveSource,
    dest: Path,
    filt: RecordFilter,
    with_warc: bool = False,
    with_wacz: bool = False,
    with_indexes: bool = False,
    progress: bool | None = None,
    limit_rate: float = 0,
) -> GetResult:
    dest = dest.resolve()
    if isinstance(source, LocalSource) and dest == source.root:
        raise CorpusError(f"{dest}: the destination is the archive itself")
    runs, skipped = select_runs(source, filt)
    wanted = [w for run in runs for w in text_files(run)]
    fetched = fetch_all(source, wanted, dest, progress, limit_rate)
    result = GetResult(runs, fetched, skipped)
    good_runs = [r for r in runs if not any(k.startswith(r.prefix + "/") for k in fetched.refused)]
    warc_names: dict[str, set[str]] = {r.prefix: set() for r in good_runs}
    if filt.by_record:
        result.selection = dest / SELECTION_NAME
        partial = result.selection.with_name(SELECTION_NAME + ".part")
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            for run in good_runs:
                for record in run_records(dest, run):
                    if filt.matches(record):
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
                        result.records += 1
                        # the WARC holding the payload: for a revisit, maybe an earlier run's
                        holder = f"{run.spider}/{record.get('warc_run_id') or run.run_id}"
                        names_of = warc_names.get(holder, warc_names[run.prefix])
                        names_of.add(record.get("warc_filename") or "")
        partial.replace(result.selection)
    else:
        result.records = sum(r.articles or 0 for r in good_runs)
    if with_warc or with_wacz or with_indexes:
        names = {prefix: found if filt.by_record else None for prefix, found in warc_names.items()}
        more = [
            w
            for run in good_runs
            for w in warc_files(
                run,
                names[run.prefix] if with_warc else set(),
                indexes=with_warc or with_indexes,
                wacz=with_wacz,
            )
        ]
        if with_wacz:
            result.without_wacz = [r.prefix for r in good_runs if not r.has_wacz]
        extra = fetch_all(source, more, dest, progress, limit_rate)
        for name in ("downloaded", "present"):
            getattr(fetched, name).extend(getattr(extra, name))
        fetched.resumed.update(extra.resumed)
        fetched.refused.update(extra.refused)
        fetched.bytes += extra.bytes
    for run in good_runs:  # last: a mirrored manifest means its files were verified
        write_manifest(dest, run)
    return result
