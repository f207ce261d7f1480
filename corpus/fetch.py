"""Resumable, verified downloads of archive files (`scrapy corpus get`).

Each file is written to `<key>.part` and renamed only once its sha256 equals the manifest's;
an interrupted download resumes from the `.part` file's end (a ranged GET on S3). A file whose
sha256 differs is refused: the `.part` file is deleted and the key reported, never renamed.
A file already present with the manifest's size and sha256 is not fetched again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError
from tqdm import tqdm

from corpus.source import ArchiveSource, CorpusError, local_target
from pipelines.run import file_sha256

logger = logging.getLogger(__name__)

CHUNK = 1 << 16


@dataclass(frozen=True)
class Wanted:
    key: str
    size: int | None
    sha256: str | None  # None: nothing to verify against (a manifest itself)


@dataclass
class FetchResult:
    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already here and verified
    resumed: dict[str, int] = field(default_factory=dict)  # key -> offset resumed from
    refused: dict[str, str] = field(default_factory=dict)  # key -> why
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.refused


class RateLimit:
    """Sleeps so that no more than `per_second` bytes pass on average (0 = no limit)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.started = time.monotonic()
        self.passed = 0

    def consume(self, size: int) -> None:
        if self.per_second <= 0:
            return
        self.passed += size
        ahead = self.passed / self.per_second - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def is_present(target: Path, want: Wanted) -> bool:
    if not target.is_file():
        return False
    if want.size is not None and target.stat().st_size != want.size:
        return False
    return want.sha256 is None or file_sha256(target) == want.sha256


def fetch_one(
    source: ArchiveSource,
    want: Wanted,
    dest: Path,
    result: FetchResult,
    bar: tqdm,
    rate: RateLimit,
) -> None:
    target = local_target(dest, want.key)
    if is_present(target, want):
        result.present.append(want.key)
        bar.update(want.size or 0)
        return
    part = target.with_name(target.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    if want.size is not None and start > want.size:
        start = 0  # longer than the file: not a prefix of it
    digest = hashlib.sha256()
    if start:
        with part.open("rb") as handle:  # the bytes already here count towards the checksum
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        result.resumed[want.key] = start
        logger.info("resuming %s at byte %d", want.key, start)
    bar.update(start)
    size = min(CHUNK, max(4096, int(rate.per_second) // 4)) if rate.per_second else CHUNK
    with source.open_from(want.key, start) as stream, part.open("ab" if start else "wb") as out:
        for chunk in iter(lambda: stream.read(size), b""):
            out.write(chunk)
            digest.update(chunk)
            result.bytes += len(chunk)
            bar.update(len(chunk))
            rate.consume(len(chunk))
    if want.sha256 is not None and digest.hexdigest() != want.sha256:
        part.unlink()
        why = f"sha256 {digest.hexdigest()} differs from the manifest's {want.sha256}"
        result.refused[want.key] = why
        logger.error("refused %s: %s", want.key, why)
        return
    part.replace(target)
    result.downloaded.append(want.key)


def fetch_all(
    source: ArchiveSource,
    wanted: list[Wanted],
    dest: Path,
    progress: bool | None = None,
    limit_rate: float = 0,
) -> FetchResult:
    """Download `wanted` under `dest` (same keys). `progress`: None shows a bar on a terminal."""
    dest.mkdir(parents=True, exist_ok=True)
    result = FetchResult()
    total = sum(w.size or 0 for w in wanted)
    rate = RateLimit(limit_rate)
    disable = None if progress is None else not progress
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=disable) as bar:
        for number, want in enumerate(wanted, 1):
            bar.set_description(f"file {number}/{len(wanted)}")
            try:
                fetch_one(source, want, dest, result, bar, rate)
            except CorpusError as exc:
                result.refused[want.key] = str(exc)
                logger.error("%s", exc)
            except (OSError, BotoCoreError) as exc:  # dropped connection: .part kept to resume
                result.refused[want.key] = f"interrupted: {exc}"
                logger.error("%s: interrupted (%s); run again to resume", want.key, exc)
    return result
