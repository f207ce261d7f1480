"""The WARC writer thread: digests, compression, rotation and CDXJ lines off the reactor.

The reactor builds each record from the response (headers, record ids, the payload digest that
deduplication needs at once) and hands it to one thread per WARC series through a bounded queue:
the records land in the order they were handed over, memory stays flat (a full queue makes the
reactor wait), and zlib-ng and hashlib release the GIL, so compression runs on another core.

Where a record landed (file and offset) is known once the thread has written it (`Placement`);
`CapturePointer` waits for it when read. What the reactor must hear of (records written, a
failed write) the thread hands to `report`, which runs it in the reactor.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from crawler.storage_base import storage_error_text
from pipelines.index import RunIndexLines
from pipelines.payload_originals import Original
from pipelines.rotating import RotatingFile

logger = logging.getLogger(__name__)

# zlib's default level. warcio's writer uses 9; on the 169 newsbench pages (329 KB of HTML on
# average) level 9 took 10.1 ms of CPU a page and level 6 5.8 ms, for files 0.8% larger (level
# 1: 1.9 ms, 20% larger): zlib over each page's HTML, one core, 2026-12. zlib-ng writes the
# same gzip format at level 6 in about half of zlib's time (3.3 vs 6.4 ms a page side by side,
# files 0.7% larger than zlib's level 6; bench/warc_writing.py --compare), 2026-12 (#23).
GZIP_LEVEL = 6
# Jobs (one capture, or one article's text records) waiting for the thread at most: ~32 pages
# of memory; past it the reactor waits for the disk.
QUEUE_JOBS = 32
PLACED_KEYS = frozenset({"warc_filename", "warc_offset"})


class Placement:
    """Where a record landed, once written: file name and offset; neither if it was not."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.filename: str | None = None
        self.offset: int | None = None

    def settle(self, filename: str | None, offset: int | None) -> None:
        self.filename, self.offset = filename, offset
        self._done.set()

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def wait(self) -> bool:
        """Wait until the writer got to it; whether it was written."""
        self._done.wait()
        return self.filename is not None


class CapturePointer(dict):  # type: ignore[type-arg]
    """`request.meta[CAPTURE_META_KEY]`: where the response was archived. `warc_filename` and
    `warc_offset` are there once the writer thread wrote the record holding the payload, and
    reading them waits for that (the spider reads them after extraction, by which time the
    record is almost always written). A record that could not be written leaves them out."""

    def __init__(self, fields: dict[str, Any], placement: Placement | None) -> None:
        super().__init__(fields)
        self._placement = placement

    def _settle(self) -> None:
        placement, self._placement = self._placement, None
        if placement is not None and placement.wait():
            super().update(warc_filename=placement.filename, warc_offset=placement.offset)

    def __getitem__(self, key: str) -> Any:
        if key in PLACED_KEYS:
            self._settle()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if key in PLACED_KEYS:
            self._settle()
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key in PLACED_KEYS:
            self._settle()
        return super().get(key, default)

    def __reduce__(self) -> tuple[Any, ...]:
        """A plain dict when pickled (a redirect's request carries it to a disk queue)."""
        self._settle()
        return (dict, (dict(self),))


@dataclass
class WriteJob:
    """Records written together and handed to the OS at once (a response and its request)."""

    records: list[ArcWarcRecord]
    placement: Placement | None = None  # of records[0]
    payload: tuple[str, Original] | None = None  # a new payload: its digest and first capture
    written: bool = False
    on_done: Callable[[bool], object] | None = None  # told in the reactor whether it was written


class GzipMember:
    """A file-like that compresses what is written into one gzip member, ended by `flush()`."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        self.out = out
        # zlib's format (gzip member: wbits | 16), written by zlib-ng: ~2x faster than zlib
        self.compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS | 16)

    def write(self, data: bytes) -> None:
        self.out.write(self.compressor.compress(data))

    def flush(self) -> None:  # warcio calls it once the record is written
        self.out.write(self.compressor.flush())


class GzipMemberWARCWriter(WARCWriter):
    """warcio's WARC/1.1 writer, each record its own gzip member at `level` (warcio: 9)."""

    def __init__(self, out: BinaryIO, level: int = GZIP_LEVEL) -> None:
        super().__init__(out, gzip=False, warc_version="1.1")
        self.level = level

    def write_record(self, record: ArcWarcRecord, params: Any = None) -> None:
        self._write_warc_record(GzipMember(self.out, self.level), record)


class ReactorMailbox:
    """Calls from the writer thread, run in the reactor thread: at the reactor's next turn, and
    whenever `drain()` is called (at each capture and at close, which is all there is when no
    reactor runs, as in tests)."""

    def __init__(self) -> None:
        from scrapy.utils.reactor import is_reactor_installed

        self.calls: deque[Callable[[], None]] = deque()  # appended and popped thread-safely
        self.reactor: Any = None
        if is_reactor_installed():  # never install one from here
            from twisted.internet import reactor

            self.reactor = reactor

    def report(self, function: Callable[..., None], *args: Any) -> None:
        self.calls.append(lambda: function(*args))
        if self.reactor is not None and self.reactor.running:
            self.reactor.callFromThread(self.drain)

    def drain(self) -> None:
        while self.calls:
            self.calls.popleft()()


_STOP = object()


@dataclass
class WarcWriterThread:
    """Writes one rotating WARC series in a thread of its own, in the order jobs are submitted.

    `warcinfo(name)` gives each new file's warcinfo fields; `report(fn, *args)` runs `fn` in the
    reactor; `on_written(job)` and `on_failed(path, error)` are what it runs there."""

    files: RotatingFile
    warcinfo: Callable[[str], dict[str, str]]
    report: Callable[..., None]
    on_written: Callable[[WriteJob], None]
    on_failed: Callable[[Path | None, BaseException], None]
    index: RunIndexLines = field(default_factory=RunIndexLines)
    broken: bool = False  # a write failed with a storage error: nothing more is written
    file_counts: Counter[str] = field(default_factory=Counter)  # records by type, this file

    def __post_init__(self) -> None:
        self.files.on_open = self._start_file
        self.writer: GzipMemberWARCWriter | None = None
        self.warcinfo_id = ""
        self.jobs: queue.Queue[Any] = queue.Queue(QUEUE_JOBS)
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="warc-writer", daemon=True)
        self.thread.start()

    def submit(self, job: WriteJob) -> None:
        """Queue a job; waits while the thread is QUEUE_JOBS jobs behind."""
        if self.closed:
            self._fail(job)
            return
        self.jobs.put(job)

    def close(self) -> None:
        """Write what is queued, close the current file, and end the thread."""
        if not self.closed:
            self.closed = True
            self.jobs.put(_STOP)
            self.thread.join()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not _STOP:
            if self.broken:
                self._fail(job)
                continue
            try:
                self._write(job)
            except Exception as exc:  # whatever it was, the reactor must hear of it
                self._fail(job)
                self._failed(exc)
        if not self.broken:
            try:
                self.files.close()
            except Exception as exc:
                self._failed(exc)

    def _fail(self, job: WriteJob) -> None:
        if job.placement is not None:
            job.placement.settle(None, None)
        self.report(self.on_written, job)

    def _failed(self, error: BaseException) -> None:
        """Cut the file back to its last whole record; a storage error stops the writer."""
        path = self.files.open_path
        self.files.salvage()
        self.index.complete = False
        if storage_error_text(error) is None:  # a bug of ours: this job is lost, not the rest
            logger.error("WARC writer: %s", path, exc_info=error)
            return
        self.broken = True
        self.report(self.on_failed, path, error)

    def _start_file(self, handle: BinaryIO, name: str) -> None:
        self.writer = GzipMemberWARCWriter(handle)
        record = self.writer.create_warcinfo_record(name, self.warcinfo(name))
        self.warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self.writer.write_record(record)  # handed to the OS with the file's first capture
        self.file_counts[record.rec_type] += 1

    def _write(self, job: WriteJob) -> None:
        handle = self.files.stream()
        assert self.writer is not None
        places = []
        for record in job.records:
            if record.rec_headers.get_header("WARC-Warcinfo-ID") is not None:
                record.rec_headers.replace_header("WARC-Warcinfo-ID", self.warcinfo_id)
            offset = handle.tell()
            self.writer.write_record(record)
            places.append((offset, handle.tell() - offset))
        self.files.record_written()
        name = self.files.name
        for record, (offset, length) in zip(job.records, places, strict=True):
            self.index.add(record, name, offset, length)
            self.file_counts[record.rec_type] += 1
        job.written = True
        if job.placement is not None:
            job.placement.settle(name, places[0][0])
        self.report(self.on_written, job)

    def take_file_counts(self) -> dict[str, int]:
        """Records by type of the file just closed (for its manifest entry); counting anew."""
        counts, self.file_counts = dict(self.file_counts), Counter()
        return counts
