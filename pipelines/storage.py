"""Archive stores chosen by the scheme of ARCHIVE_URI (model: scrapy/pipelines/files.py).

Writers never open archive paths themselves: they ask the store for the local path of a key
(`local_path`), write it, and hand it back when complete (`persist`). A key is a `/`-joined
relative path such as `news/<run_id>/warc/<name>.warc.gz`; it can never leave the store's root.
Local folders are written in place; S3 stores write to a local spool and upload (pipelines.s3).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from w3lib.url import file_uri_to_path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_segment(name: str) -> str:
    """One path segment made of safe characters: no separators, no `..`, no control bytes."""
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", name)).strip("._")
    return cleaned[:120] or "_"


def check_key(key: str) -> str:
    """The key itself when every segment is already safe; ValueError otherwise."""
    segments = key.split("/")
    if not key or any(seg != safe_segment(seg) for seg in segments):
        raise ValueError(f"unsafe archive key {key!r}")
    return key


class ArchiveStore(Protocol):
    uri: str
    local_root: Path  # where files are written before they are persisted

    def local_path(self, key: str) -> Path:
        """Where a writer writes the file for `key` (parent folders exist)."""

    def persist(self, key: str, path: Path, sha256: str) -> None:
        """Called once the file at `path` is complete (sha256: hex digest of its bytes)."""

    def drain(self) -> list[str]:
        """Wait for pending work; the keys that are not safely stored (still local only)."""


def local_path_under(root: Path, key: str) -> Path:
    path = (root / check_key(key)).resolve()
    if not path.is_relative_to(root):  # belt and braces over check_key
        raise ValueError(f"archive key {key!r} leaves the archive root")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class FSArchiveStore:
    """A local folder: files are written in place, so persisting is a no-op."""

    def __init__(self, uri: str, settings: Any = None) -> None:
        self.uri = uri
        path = file_uri_to_path(uri) if uri.startswith("file://") else uri
        self.root = Path(path).expanduser().resolve()
        self.local_root = self.root

    def local_path(self, key: str) -> Path:
        return local_path_under(self.root, key)

    def persist(self, key: str, path: Path, sha256: str) -> None:
        return None

    def drain(self) -> list[str]:
        return []


def _s3_store(uri: str, settings: Any = None) -> ArchiveStore:
    from pipelines.s3 import S3ArchiveStore  # boto3 is only imported for s3:// archives

    return S3ArchiveStore(uri, settings)


STORE_SCHEMES: dict[str, Any] = {"": FSArchiveStore, "file": FSArchiveStore, "s3": _s3_store}


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
    return STORE_SCHEMES[scheme](uri, settings)
