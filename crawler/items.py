"""Article: the one record shape that flows from the spider to the pipelines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# request.meta key under which the WARC capture hook leaves, for the spider, where the response
# was archived: {"fetched_at", "warc_filename", "warc_record_id", "warc_offset"}.
CAPTURE_META_KEY = "capture"
# For a capture written as a revisit, the warc_* fields name the original response that holds
# the payload (possibly in an earlier run, warc_run_id); revisit_record_id is the revisit's own.
CAPTURE_FIELDS = (
    "fetched_at", "warc_run_id", "warc_filename", "warc_record_id", "warc_offset",
    "revisit_record_id",
)  # fmt: skip


@dataclass
class Article:
    """One extracted news article; field names are the text-record contract of DESIGN.md."""

    id: str
    url: str
    canonical_url: str | None = None
    title: str | None = None
    author: str | None = None
    date: str | None = None  # ISO 8601 publication date
    date_modified: str | None = None
    sitename: str | None = None
    language: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    text: str = ""
    page_type: str = "article"  # article, liveblog, listing, video, paywall or uncertain
    page_type_reason: str | None = None  # why it is not a plain article (crawler.extract.pagetype)
    fetched_at: str | None = None  # ISO 8601 UTC time the response arrived
    status: int | None = None
    warc_run_id: str | None = None  # run whose WARC holds the response record (payload)
    warc_filename: str | None = None  # WARC file holding the response record
    warc_record_id: str | None = None  # WARC-Record-ID of that response record
    warc_offset: int | None = None  # byte offset of the response record in that file
    revisit_record_id: str | None = None  # this fetch's own revisit record, when deduplicated

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready dict written to text shards and printed by `scrapy extract`."""
        return asdict(self)
