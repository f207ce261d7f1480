"""Read access to an archive, chosen by the scheme of its URI like pipelines.storage does for
writing: a local folder (or file:// URI) or s3://bucket/prefix. Keys are the archive's own
`<spider>/<run_id>/...` paths, the same on both.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from w3lib.url import file_uri_to_path

from crawler.storage_base import check_key, local_path_under
from pipelines.storage.s3 import s3_client


class CorpusError(Exception):
    """A problem the user can fix (bad URI, no credentials, no bucket, bad checksum): printed
    as one clear line, without a traceback."""


class ArchiveSource(Protocol):
    uri: str

    def children(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` ("" = the archive root)."""

    def read(self, key: str) -> bytes | None:
        """A small object's bytes (a manifest), or None when there is no such key."""

    def files(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix` with its size."""

    def open_from(self, key: str, start: int) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream of the key's bytes from offset `start` (a resumed download)."""


class LocalSource:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.uri = str(self.root)
        if not self.root.is_dir():
            raise CorpusError(f"{self.uri}: no such archive folder")

    def _path(self, key: str) -> Path:
        return (self.root / check_key(key)) if key else self.root

    def children(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")

    def read(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def files(self, prefix: str) -> dict[str, int]:
        folder = self._path(prefix)
        return {
            p.relative_to(self.root).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith((".open", ".part", ".tmp"))
        }

    @contextlib.contextmanager
    def open_from(self, key: str, start: int) -> Iterator[BinaryIO]:
        with self._path(key).open("rb") as handle:
            handle.seek(start)
            yield handle

    def copy_to(self, key: str, target: Path) -> None:
        shutil.copyfile(self._path(key), target)


class S3Source:
    def __init__(self, uri: str, settings: Any = None, anonymous: bool = False) -> None:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise CorpusError(f"{uri}: no bucket name (expected s3://bucket/prefix)")
        self.uri = uri.rstrip("/")
        self.bucket = parts.netloc
        self.prefix = "/".join(p for p in parts.path.split("/") if p)
        self.client = s3_client(settings, anonymous=anonymous)
        with self.errors():
            self.client.head_bucket(Bucket=self.bucket)  # fail early with a clear reason

    def _object(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, check_key(key) if key else "") if p)

    @contextlib.contextmanager
    def errors(self, key: str = "") -> Iterator[None]:
        """boto3's exceptions turned into one line that says what to do."""
        where = f"s3://{self.bucket}/{self._object(key)}"
        try:
            yield
        except (NoCredentialsError, PartialCredentialsError):
            raise CorpusError(
                f"{where}: no AWS credentials found. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass --anonymous for a public bucket"
            ) from None
        except EndpointConnectionError as exc:
            raise CorpusError(f"{where}: cannot reach the S3 endpoint ({exc})") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (code == "404" and not key):
                raise CorpusError(f"s3://{self.bucket}: no such bucket") from None
            if code in ("NoSuchKey", "404"):
                raise CorpusError(f"{where}: no such object") from None
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
                raise CorpusError(f"{where}: the AWS credentials were refused ({code})") from None
            if code in ("AccessDenied", "403") or status == 403:
                raise CorpusError(f"{where}: access denied (check the bucket policy)") from None
            raise CorpusError(f"{where}: {code or status}: {exc}") from None
        except BotoCoreError as exc:
            raise CorpusError(f"{where}: {exc}") from None

    def children(self, prefix: str) -> list[str]:
        base = self._object(prefix)
        base = base + "/" if base else ""
        names = []
        with self.errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(base) :].strip("/")
                    if name and not name.startswith("."):
                        names.append(name)
        return sorted(names)

    def read(self, key: str) -> bytes | None:
        try:
            with self.errors(key):
                return self.client.get_object(Bucket=self.bucket, Key=self._object(key))[
                    "Body"
                ].read()
        except CorpusError as exc:
            if "no such object" in str(exc):
                return None
            raise

    def files(self, prefix: str) -> dict[str, int]:
        base = self._object(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        found = {}
        with self.errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][strip:]] = item["Size"]
        return found

    @contextlib.contextmanager
    def open_from(self, key: str, start: int) -> Iterator[BinaryIO]:
        extra = {"Range": f"bytes={start}-"} if start else {}
        with self.errors(key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._object(key), **extra)
            try:
                yield body["Body"]
            finally:
                body["Body"].close()


def open_source(uri: str, settings: Any = None, anonymous: bool = False) -> ArchiveSource:
    """The archive at `uri`: s3://bucket/prefix, file:///path or a plain local path."""
    scheme = urlsplit(uri).scheme
    if scheme == "s3":
        return S3Source(uri, settings, anonymous)
    if scheme == "file":
        return LocalSource(Path(file_uri_to_path(uri)))
    if scheme and len(scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise CorpusError(f"{uri}: unsupported archive scheme {scheme!r} (use a path or s3://)")
    return LocalSource(Path(uri))


def local_target(root: Path, key: str) -> Path:
    """Where a downloaded key goes under `root` (never outside it)."""
    return local_path_under(root.resolve(), key)
