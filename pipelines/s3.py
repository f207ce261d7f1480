"""S3 archive store (AWS, MinIO, R2, Ceph): files are written to a local spool and uploaded
with boto3's transfer manager as soon as they close, then deleted locally once verified.

- Credentials: boto3's standard chain only (environment, profile, instance role); never
  settings. Endpoint: S3_ENDPOINT_URL, else the environment's AWS_ENDPOINT_URL /
  S3_ENDPOINT_URL, else AWS.
- Verified: every upload asks for a SHA-256 checksum, which S3 checks on receipt; afterwards
  the object's checksum (the composite one for multipart uploads) is compared with the file's.
- Failures: boto3 retries each request; a failed upload is retried with backoff, and if it
  still fails the file stays in the spool for the next run or `scrapy corpus push`. boto3's
  transfer manager aborts a failed multipart upload, so no half-written object is left.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.storage import check_key, local_path_under, safe_segment

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
DEFAULT_SPOOL = "~/.cache/newsarchiver/spool"


def _setting(settings: Any, name: str, default: Any) -> Any:
    if settings is None:
        return default
    value = settings.get(name, default)
    return default if value in (None, "") else value


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def expected_checksum(
    path: Path, multipart_threshold: int, chunk_size: int, sha256_hex: str = ""
) -> str:
    """The ChecksumSHA256 S3 reports for this file uploaded with this transfer config: of the
    whole file (from `sha256_hex` when the caller already has it), or for multipart uploads
    of the concatenated part checksums."""
    size = path.stat().st_size
    if size < multipart_threshold and sha256_hex:
        return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")
    with path.open("rb") as handle:
        if size < multipart_threshold:
            return b64_sha256(handle.read())
        chunks = iter(lambda: handle.read(chunk_size), b"")
        parts = [hashlib.sha256(chunk).digest() for chunk in chunks]
    return b64_sha256(b"".join(parts))


def s3_client(settings: Any = None, anonymous: bool = False) -> Any:
    """A boto3 S3 client for S3_ENDPOINT_URL / S3_REGION; credentials from boto3's chain, or
    none at all for a public bucket (`anonymous`)."""
    endpoint = _setting(settings, "S3_ENDPOINT_URL", "") or os.environ.get("S3_ENDPOINT_URL")
    config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10)
    if anonymous:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or None,  # None: boto3 honours AWS_ENDPOINT_URL itself
        region_name=_setting(settings, "S3_REGION", "") or None,
        config=config,
    )


class S3ArchiveStore:
    """`s3://bucket/prefix`: keys become `prefix/key` objects."""

    def __init__(self, uri: str, settings: Any = None) -> None:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ValueError(f"ARCHIVE_URI {uri!r}: no bucket name")
        self.uri = uri
        self.bucket = parts.netloc
        self.prefix = "/".join(p for p in parts.path.split("/") if p)
        if self.prefix:
            check_key(self.prefix)  # no "..", no odd characters in the operator's prefix
        spool = Path(_setting(settings, "ARCHIVE_SPOOL", DEFAULT_SPOOL)).expanduser()
        self.local_root = (spool / safe_segment(self.bucket) / (self.prefix or "_")).resolve()
        self.local_root.mkdir(parents=True, exist_ok=True)
        self.retries = int(_setting(settings, "S3_UPLOAD_RETRIES", 4))
        self.backoff = float(_setting(settings, "S3_RETRY_BACKOFF", 2.0))
        self.transfer = TransferConfig(
            multipart_threshold=int(_setting(settings, "S3_MULTIPART_THRESHOLD", 64 * 1024**2)),
            multipart_chunksize=int(_setting(settings, "S3_MULTIPART_CHUNKSIZE", 64 * 1024**2)),
            max_concurrency=int(_setting(settings, "S3_MAX_CONCURRENCY", 4)),
        )
        self.extra_args: dict[str, str] = {"ChecksumAlgorithm": "SHA256"}
        if storage_class := _setting(settings, "S3_STORAGE_CLASS", ""):
            self.extra_args["StorageClass"] = storage_class
        if sse := _setting(settings, "S3_SSE", ""):
            self.extra_args["ServerSideEncryption"] = sse
            if kms_key := _setting(settings, "S3_SSE_KMS_KEY_ID", ""):
                self.extra_args["SSEKMSKeyId"] = kms_key
        self.client = s3_client(settings)
        self._pool = ThreadPoolExecutor(
            max_workers=int(_setting(settings, "S3_UPLOAD_WORKERS", 2)),
            thread_name_prefix="s3-upload",
        )
        self._pending: dict[str, Future[bool]] = {}
        self._lock = threading.Lock()
        self.uploaded_bytes = 0
        self.upload_seconds = 0.0

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def local_path(self, key: str) -> Path:
        return local_path_under(self.local_root, key)

    def persist(self, key: str, path: Path, sha256: str = "", retries: int | None = None) -> None:
        """Queue the upload; the crawl goes on while it runs."""
        with self._lock:
            self._pending[key] = self._pool.submit(self.upload, key, path, retries, sha256)

    def upload(
        self, key: str, path: Path, retries: int | None = None, sha256: str = ""
    ) -> bool:
        """Upload, verify, delete the local copy. False (file kept) when it cannot be done."""
        object_key = self.object_key(key)
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            started = time.monotonic()
            try:
                self.client.upload_file(
                    str(path), self.bucket, object_key,
                    ExtraArgs=self.extra_args, Config=self.transfer,
                )  # fmt: skip
                self.verify(path, object_key, sha256)
            except (BotoCoreError, ClientError, OSError, ValueError) as exc:
                wait = self.backoff * 2**attempt
                level = logging.WARNING if attempt < retries else logging.ERROR
                logger.log(level, "upload of %s to s3://%s/%s failed (attempt %d): %s",
                           path, self.bucket, object_key, attempt + 1, exc)  # fmt: skip
                if attempt < retries:
                    time.sleep(wait)
                continue
            size = path.stat().st_size
            with self._lock:
                self.uploaded_bytes += size
                self.upload_seconds += time.monotonic() - started
            path.unlink()
            logger.info("uploaded %s (%d bytes) to s3://%s/%s", path.name, size, self.bucket,
                        object_key)  # fmt: skip
            return True
        logger.error("kept in the spool for `scrapy corpus push`: %s", path)
        return False

    def verify(self, path: Path, object_key: str, sha256: str = "") -> None:
        head = self.client.head_object(Bucket=self.bucket, Key=object_key, ChecksumMode="ENABLED")
        if head["ContentLength"] != path.stat().st_size:
            raise ValueError(f"size mismatch for {object_key}")
        reported = (head.get("ChecksumSHA256") or "").split("-")[0]
        wanted = expected_checksum(
            path, self.transfer.multipart_threshold, self.transfer.multipart_chunksize, sha256
        )
        if reported != wanted:
            raise ValueError(f"checksum mismatch for {object_key}: {reported!r} != {wanted!r}")

    def drain(self) -> list[str]:
        """Wait for every queued upload; the keys that are still only in the spool."""
        with self._lock:
            pending = dict(self._pending)
            self._pending.clear()
        return sorted(key for key, future in pending.items() if not future.result())

    def spooled(self) -> list[str]:
        """Keys of finished files waiting in the spool (a `.open` file is still being written)."""
        keys = (p.relative_to(self.local_root).as_posix() for p in self.local_root.rglob("*")
                if p.is_file() and not p.name.endswith(".open"))  # fmt: skip
        # dot-folders hold crawl state (.state/: seen-store, lock), never archive files
        return sorted(k for k in keys if not any(part.startswith(".") for part in k.split("/")))

    def push(self, retries: int | None = None, skip: str = "") -> tuple[list[str], list[str]]:
        """Upload what the spool holds (except keys under `skip`, a running run's prefix),
        each run's manifest after its other files. Returns (uploaded, still spooled)."""
        keys = [k for k in self.spooled() if not (skip and k.startswith(skip + "/"))]
        manifests = [k for k in keys if k.endswith("/" + MANIFEST_NAME)]
        for key in keys:
            if key not in manifests:
                self.persist(key, self.local_root / key, retries=retries)
        failed = self.drain()
        for key in manifests:
            run_prefix = key.rsplit("/", 1)[0] + "/"
            if not any(f.startswith(run_prefix) for f in failed):
                self.persist(key, self.local_root / key, retries=retries)
        failed += self.drain()
        done = [k for k in keys if k not in failed and not (self.local_root / k).exists()]
        return done, failed
