"""Storage backends, apart from the archive writers (pipelines.warc, .text, .index, ...):
archive stores chosen by the scheme of ARCHIVE_URI (model: scrapy/pipelines/files.py).

Writers never open archive paths themselves: they ask the store for the local path of a key
(`local_path`), write it, and hand it back when complete (`persist`). A key is a `/`-joined
relative path such as `news/<run_id>/warc/<name>.warc.gz`; it can never leave the store's root.
Local folders are written in place; S3 stores write to a local spool and upload
(pipelines.storage.s3).

Where an archive keeps its local files, safe path segments and what a refused write does
(`storage_failed`) live below the crawl and the pipelines both, in crawler.storage_base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from scrapy.utils.misc import load_object

from crawler.storage_base import local_path_under, local_root


class ArchiveStore(Protocol):
    uri: str
    local_root: Path  # where files are written before they are persisted
    remote: bool  # persisted files go up to a remote store: local_root is its spool

    def local_path(self, key: str) -> Path:
        """Where a writer writes the file for `key` (parent folders exist)."""

    def persist(self, key: str, path: Path, sha256: str) -> None:
        """Called once the file at `path` is complete (sha256: hex digest of its bytes)."""

    def drain(self) -> list[str]:
        """Wait for pending work; the keys that are not safely stored (still local only)."""


class FSArchiveStore:
    """A local folder: files are written in place, so persisting is a no-op."""

    remote = False

    def __init__(self, uri: str, settings: Any = None) -> None:
        self.uri = uri
        self.root = local_root(uri, settings)
        self.local_root = self.root

    def local_path(self, key: str) -> Path:
        return local_path_under(self.root, key)

    def persist(self, key: str, path: Path, sha256: str) -> None:
        return None

    def drain(self) -> list[str]:
        return []


# By scheme, as Scrapy's FEED_STORAGES: a dotted path is loaded when first used (boto3 is only
# imported for s3:// archives, and pipelines.storage.s3 builds on this module, not the other way).
STORE_SCHEMES: dict[str, Any] = {
    "": FSArchiveStore,
    "file": FSArchiveStore,
    "s3": "pipelines.storage.s3.S3ArchiveStore",
}


def get_store(uri: str, settings: Any = None) -> ArchiveStore:
    """The store for ARCHIVE_URI; `settings` (Scrapy Settings) configure S3 stores."""
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme not in STORE_SCHEMES:
        supported = ", ".join(s or "<local path>" for s in STORE_SCHEMES)
        raise ValueError(
            f"ARCHIVE_URI {uri!r}: scheme {scheme!r} is not supported (supported: {supported})"
        )
    return load_object(STORE_SCHEMES[scheme])(uri, settings)
