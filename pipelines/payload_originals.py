"""The originals a revisit record refers to: where each payload of a run was first archived,
read from the run's `indexes/index.cdxj` and the WARC headers it points at. Shared by the
payload index on disk (pipelines.payloads) and in Redis (pipelines.payloads_redis).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from pipelines.index import CDXJ_NAME, cdxj_entries

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Original:
    """Where a payload was first archived: what a revisit record refers to."""

    uri: str
    date: str  # WARC-Date of the original capture
    record_id: str | None  # its WARC-Record-ID, when known
    run_id: str | None = None  # where it is: the run, its WARC file and the record's offset
    filename: str | None = None
    offset: int | None = None


def run_originals(
    run_dir: Path, known: Callable[[str], bool]
) -> Iterator[tuple[str, Original]]:
    """The first capture of each payload of a run's 200 responses (not its revisits, whose
    original may be in a run since deleted) that `known` does not hold yet, read from its
    indexes/index.cdxj and the WARC headers it points at."""
    index = run_dir / "indexes" / CDXJ_NAME
    if not index.is_file():
        return
    wanted: dict[tuple[str, int], str] = {}
    for _key, _ts, fields in cdxj_entries(index):
        digest = fields.get("digest")
        if fields.get("mime") == "warc/revisit":
            continue  # not an original: a revisit must never refer to a revisit
        if fields.get("status") == "200" and digest and not known(digest):
            wanted[(fields["filename"], int(fields["offset"]))] = digest
    given: set[str] = set()
    for (filename, offset), digest in sorted(wanted.items()):
        original = read_original(run_dir / "warc" / filename, offset)
        if original is not None and digest not in given:
            given.add(digest)
            yield digest, replace(original, run_id=run_dir.name, filename=filename, offset=offset)


def read_original(warc: Path, offset: int) -> Original | None:
    """URI, date and record id of the record at `offset` (its headers only)."""
    try:
        with warc.open("rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
    except (OSError, StopIteration) as exc:
        logger.warning("cannot read %s at %d for deduplication: %s", warc, offset, exc)
        return None
    headers = record.rec_headers
    return Original(
        headers.get_header("WARC-Target-URI"),
        headers.get_header("WARC-Date"),
        headers.get_header("WARC-Record-ID"),
    )
