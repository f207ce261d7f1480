"""S3 archive store (AWS, MinIO, R2, Ceph): files are written to a local spool and uploaded
with boto3's transfer manager as soon as they close, then deleted locally once verified.

- Credentials: boto3's standard chain only (environment, profile, instance role); never
  settings. Endpoint: S3_ENDPOINT_URL, else the environment's AWS_ENDPOINT_URL /
  S3_ENDPOINT_URL, else AWS.
- Verified: every upload asks for a SHA-256 checksum, which S3 checks on receipt; afterwards
  the object's checksum (the composite one for multipart uploads) is compared with the file's.
- Failures, one path for all (no bucket, access denied, wrong credentials, network, a bad
  checksum): boto3 retries each request; a failed upload is retried with backoff, and if it
  still fails the file stays in the spool with one error line, for the next run or `scrapy
  corpus push`. `upload()` never raises. After an error no later upload can get past (no
  bucket, access denied, bad credentials) the store stops trying and spools the rest at once;
  after a network error the next file is still tried. boto3's transfer manager aborts a
  failed multipart upload, so no half-written object is left.
- Push: each run's manifest goes up after its other files, rewritten on the way to say so
  (`complete`, every file `stored: archive`, `pushed_at`, a `spooled` outcome made `ok`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crawler.storage_base import check_key, local_path_under, local_root, setting_value
from pipelines.run import MANIFEST_NAME

logger = logging.getLogger(__name__)

# Taken by whoever pushes the spool (`corpus push`, a crawl's start): two pushers uploading the
# same files would each see the other's deletions as failures.
PUSH_LOCK = ".state/push.lock"
# S3 error codes no retry can cure in this run: the bucket or the credentials are wrong
# ("403": a HEAD request's access denied, which has no body to name the code)
UNUSABLE_CODES = frozenset({
    "NoSuchBucket", "InvalidBucketName", "AccessDenied", "AllAccessDisabled", "403",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
})  # fmt: skip
# What an upload can fail with (S3UploadFailedError is a Boto3Error; ValueError: verify())
UPLOAD_ERRORS = (Boto3Error, BotoCoreError, ClientError, OSError, ValueError)


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


def client_error(exc: BaseException) -> ClientError | None:
    """The S3 error behind `exc`, if any: boto3's S3UploadFailedError keeps the ClientError
    only as its context."""
    seen: BaseException | None = exc
    for _ in range(5):  # a short chain; never loop on a cyclic one
        if seen is None or isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def error_code(exc: BaseException) -> str:
    found = client_error(exc)
    return str(found.response.get("Error", {}).get("Code", "")) if found else ""


def one_line(exc: BaseException) -> str:
    """What went wrong, briefly: S3's own code and message when S3 answered."""
    found = client_error(exc)
    if found is not None:
        error = found.response.get("Error", {})
        message = f"{error.get('Code', '')}: {error.get('Message') or found}"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())


def mark_pushed(manifest: dict[str, Any], now: str) -> dict[str, Any]:
    """A run manifest as it reads once `scrapy corpus push` uploaded the run's last files:
    every file in the archive; complete only if the upload was all that was missing (a killed,
    interrupted or storage-failed run stopped early: uploading its files does not finish it)."""
    outcome = manifest.get("outcome")
    status = outcome.get("status") if isinstance(outcome, dict) else None
    finished = not manifest.get("killed") and status in (None, "ok", "spooled")
    pushed = {**manifest, "complete": finished, "pushed_at": now}
    pushed["files"] = [{**entry, "stored": "archive"} for entry in manifest["files"]]
    if status == "spooled":
        pushed["outcome"] = {
            "exit_code": 0, "status": "ok", "why": f"uploaded by scrapy corpus push at {now}"
        }  # fmt: skip
    return pushed


def s3_client(settings: Any = None, anonymous: bool = False) -> Any:
    """A boto3 S3 client for S3_ENDPOINT_URL / S3_REGION; credentials from boto3's chain, or
    none at all for a public bucket (`anonymous`). Request attempts: 5, or what boto3's
    configuration says (AWS_MAX_ATTEMPTS, `max_attempts` in ~/.aws/config)."""
    endpoint = setting_value(settings, "S3_ENDPOINT_URL", "") or os.environ.get("S3_ENDPOINT_URL")
    core = botocore.session.get_session()
    attempts = int(core.get_config_variable("max_attempts") or 5)
    config = Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=10)
    if anonymous:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session(botocore_session=core).client(
        "s3",
        endpoint_url=endpoint or None,  # None: boto3 honours AWS_ENDPOINT_URL itself
        region_name=setting_value(settings, "S3_REGION", "") or None,
        config=config,
    )


class S3ArchiveStore:
    """`s3://bucket/prefix`: keys become `prefix/key` objects."""

    remote = True

    def __init__(self, uri: str, settings: Any = None) -> None:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ValueError(f"ARCHIVE_URI {uri!r}: no bucket name")
        self.uri = uri
        self.bucket = parts.netloc
        self.prefix = "/".join(p for p in parts.path.split("/") if p)
        if self.prefix:
            check_key(self.prefix)  # no "..", no odd characters in the operator's prefix
        self.local_root = local_root(uri, settings)
        self.local_root.mkdir(parents=True, exist_ok=True)
        self.retries = int(setting_value(settings, "S3_UPLOAD_RETRIES", 4))
        self.backoff = float(setting_value(settings, "S3_RETRY_BACKOFF", 2.0))
        part = 64 * 1024**2
        self.transfer = TransferConfig(
            multipart_threshold=int(setting_value(settings, "S3_MULTIPART_THRESHOLD", part)),
            multipart_chunksize=int(setting_value(settings, "S3_MULTIPART_CHUNKSIZE", part)),
            max_concurrency=int(setting_value(settings, "S3_MAX_CONCURRENCY", 4)),
        )
        self.extra_args: dict[str, str] = {"ChecksumAlgorithm": "SHA256"}
        if storage_class := setting_value(settings, "S3_STORAGE_CLASS", ""):
            self.extra_args["StorageClass"] = storage_class
        if sse := setting_value(settings, "S3_SSE", ""):
            self.extra_args["ServerSideEncryption"] = sse
            if kms_key := setting_value(settings, "S3_SSE_KMS_KEY_ID", ""):
                self.extra_args["SSEKMSKeyId"] = kms_key
        self.client = s3_client(settings)
        self._pool = ThreadPoolExecutor(
            max_workers=int(setting_value(settings, "S3_UPLOAD_WORKERS", 2)),
            thread_name_prefix="s3-upload",
        )
        self._pending: dict[str, Future[bool]] = {}
        self._lock = threading.Lock()
        self.uploaded_bytes = 0
        self.upload_seconds = 0.0
        self.unusable = ""  # why no upload can succeed (no bucket, access denied), once known
        self._push_locked = False

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
        """Upload, verify, delete the local copy. False (file kept in the spool, one error
        line) when it cannot be done; never raises."""
        try:
            error = self._try_upload(key, path, self.retries if retries is None else retries,
                                     sha256)  # fmt: skip
        except Exception:  # a bug of ours, not S3's: still the file stays and the crawl goes on
            logger.exception("kept in the spool for `scrapy corpus push`: %s", path)
            return False
        if error:
            logger.error("kept in the spool for `scrapy corpus push`: %s (%s)", path, error)
        return not error

    def _try_upload(self, key: str, path: Path, retries: int, sha256: str) -> str:
        """Upload with `retries` retries; why it failed, or "" once uploaded."""
        object_key = self.object_key(key)
        error = ""
        for attempt in range(retries + 1):
            if self.unusable:
                return self.unusable
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            started = time.monotonic()
            try:
                self.client.upload_file(
                    str(path), self.bucket, object_key,
                    ExtraArgs=self.extra_args, Config=self.transfer,
                )  # fmt: skip
                self.verify(path, object_key, sha256)
            except UPLOAD_ERRORS as exc:
                error = f"attempt {attempt + 1} of {retries + 1}: {one_line(exc)}"
                if error_code(exc) in UNUSABLE_CODES:
                    self.give_up(exc)
                    return self.unusable
                if isinstance(exc, FileNotFoundError):
                    return error  # nothing to retry
                if attempt < retries:
                    logger.warning("upload of %s to s3://%s/%s failed (%s); retrying", path,
                                   self.bucket, object_key, error)  # fmt: skip
                continue
            size = path.stat().st_size
            with self._lock:
                self.uploaded_bytes += size
                self.upload_seconds += time.monotonic() - started
            path.unlink()
            logger.info("uploaded %s (%d bytes) to s3://%s/%s", path.name, size, self.bucket,
                        object_key)  # fmt: skip
            return ""
        return error

    def give_up(self, exc: BaseException) -> None:
        """The bucket or the credentials are wrong: no retry, no further upload in this run."""
        with self._lock:
            if self.unusable:
                return
            self.unusable = f"s3://{self.bucket} cannot be written: {one_line(exc)}"
        logger.error(
            "%s; no more uploads are tried, every file stays in the spool %s: fix the bucket "
            "or the credentials, then run `scrapy corpus push`",
            self.unusable, self.local_root,
        )  # fmt: skip

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

    def remote_keys(self, prefix: str) -> list[str]:
        """Keys of the objects S3 holds under `prefix/` (e.g. a run's), as archive keys."""
        base = self.object_key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base
        )
        return sorted(item["Key"][strip:] for page in pages for item in page.get("Contents", []))

    def fetch(self, key: str) -> Path:
        """Download an object to its place in the spool (through a `.tmp` file, which nothing
        takes for a finished file); its local path."""
        path = self.local_path(key)
        partial = path.with_name(path.name + ".fetch.tmp")
        try:
            self.client.download_file(self.bucket, self.object_key(key), str(partial))
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def drain(self) -> list[str]:
        """Wait for every queued upload; the keys that are still only in the spool."""
        with self._lock:
            pending = dict(self._pending)
            self._pending.clear()
        return sorted(key for key, future in pending.items() if not future.result())

    def spooled(self) -> list[str]:
        """Keys of finished files waiting in the spool (a `.open` file is still being written,
        a `.tmp` one is a manifest being written or pushed)."""
        keys = (p.relative_to(self.local_root).as_posix() for p in self.local_root.rglob("*")
                if p.is_file() and not p.name.endswith((".open", ".tmp")))  # fmt: skip
        # dot-folders hold crawl state (.state/: seen-store, lock), never archive files
        return sorted(k for k in keys if not any(part.startswith(".") for part in k.split("/")))

    @contextlib.contextmanager
    def push_lock(self, wait: bool = True) -> Iterator[bool]:
        """Hold the spool's push lock; yields False (and holds nothing) when `wait` is False
        and another process pushes now."""
        if self._push_locked:  # this store holds it already (corpus push: finish, then push)
            yield True
            return
        path = self.local_root / PUSH_LOCK
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:  # closing the file releases the lock
            if not lock_file(handle, wait):
                yield False
                return
            self._push_locked = True
            try:
                yield True
            finally:
                self._push_locked = False

    def push(
        self, retries: int | None = None, skip: str = "", wait: bool = True
    ) -> tuple[list[str], list[str]]:
        """Upload what the spool holds (except keys under `skip`, a running run's prefix),
        each run's manifest after its other files, marked pushed (mark_pushed). Returns
        (uploaded, still spooled). One pusher at a time (push_lock): a second one waits and
        then reads the spool afresh, or with `wait` False pushes nothing."""
        with self.push_lock(wait) as locked:
            if not locked:
                logger.info("another process is pushing the spool %s: not pushing now",
                            self.local_root)  # fmt: skip
                return [], []
            done, failed = self._push(retries, skip)
        # a key whose spool file is gone was uploaded (by a running crawl's own upload, say):
        # only what is still in the spool is left there
        return done, [k for k in failed if (self.local_root / k).exists()]

    def _push(self, retries: int | None, skip: str) -> tuple[list[str], list[str]]:
        keys = [k for k in self.spooled() if not (skip and k.startswith(skip + "/"))]
        manifests = [k for k in keys if k.endswith("/" + MANIFEST_NAME)]
        for key in keys:
            if key not in manifests:
                self.persist(key, self.local_root / key, retries=retries)
        failed = self.drain()
        now = datetime.now(UTC).isoformat()
        for key in manifests:
            run_prefix = key.rsplit("/", 1)[0] + "/"
            if any(f.startswith(run_prefix) for f in failed):
                failed.append(key)  # the run is not whole in S3 yet: its manifest waits
                continue
            with self._lock:
                self._pending[key] = self._pool.submit(self.push_manifest, key, now, retries)
        failed = sorted(set(failed) | set(self.drain()))
        done = [k for k in keys if k not in failed and not (self.local_root / k).exists()]
        return done, failed

    def push_manifest(self, key: str, now: str, retries: int | None = None) -> bool:
        """Upload a run's manifest rewritten by mark_pushed(); the spool's copy is left as
        it was until the upload is verified."""
        path = self.local_root / key
        sent = path.with_name(path.name + ".push.tmp")
        try:
            text = path.read_text(encoding="utf-8")
            manifest = json.loads(text)
            if isinstance(manifest, dict) and isinstance(manifest.get("files"), list):
                text = json.dumps(mark_pushed(manifest, now), indent=1) + "\n"
            else:
                logger.warning("%s is not a run manifest: uploaded as it is", path)
            sent.write_text(text, encoding="utf-8")
        except (OSError, ValueError) as exc:
            logger.error("kept in the spool for `scrapy corpus push`: %s (%s)", path,
                         one_line(exc))  # fmt: skip
            return False
        if not self.upload(key, sent, retries):
            sent.unlink(missing_ok=True)
            return False
        path.unlink()
        return True


def lock_file(handle: IO[Any], wait: bool = True) -> bool:
    """An exclusive flock on an open file; False when `wait` is False and another holds it."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True
