"""Every S3 failure takes one path (#14 item 3): no bucket, access denied, wrong credentials,
an unreachable endpoint. The crawl goes on, its files and its manifest (`"complete": false`,
files `"stored": "spool"`) stay in the spool with one error line each, and once S3 is fixed
`scrapy corpus push` uploads them, the manifest last and marked pushed.

Real crawls (`scrapy crawl news`) of a local site to moto's standalone server over HTTP; moto
enforces IAM once its auth is switched on (`/moto-api/reset-auth`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import scrapy
from tests.test_hostile import GUARDED, HostileSite, Page, article, home, html
from tests.test_s3 import Moto, free_port, moto  # noqa: F401 (moto: the fixture)

RUN_ID = "s3fail"
UPLOAD = ["-s", "S3_UPLOAD_RETRIES=2", "-s", "S3_RETRY_BACKOFF=0.1"]
KEPT = "kept in the spool for `scrapy corpus push`"
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                   "Resource": "*"}],
}  # fmt: skip


def set_moto_auth(endpoint: str, after_actions: str) -> None:
    """Make moto check credentials and IAM policies after `after_actions` more requests
    ("inf": never). A setting of the whole process that runs moto: always put back."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=after_actions.encode(), method="POST",
        headers={"Content-Type": "text/plain"},  # not a form: moto reads the raw body
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """The failure setups change AWS_* variables of this process (AWS_MAX_ATTEMPTS=1 among
    them); later tests in the same worker must not inherit them."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def moto_auth(moto: Moto) -> Iterator[Callable[[str], None]]:  # noqa: F811
    yield lambda after: set_moto_auth(moto.endpoint, after)
    set_moto_auth(moto.endpoint, "inf")


@pytest.fixture
def site() -> Iterator[HostileSite]:
    with HostileSite() as served:
        served.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        served.pages["/"] = home("/news/second-story/", "/news/third-story/")
        for path, title in (("/news/good-story/", "Harbour board publishes its figures"),
                            ("/news/second-story/", "Ferry timetable changes in spring"),
                            ("/news/third-story/", "Dock workers vote on new contract")):
            served.pages[path] = html(article(title))
        yield served


def s3_objects(bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(prefix)] = body
    return found


def spooled(spool: Path) -> set[str]:
    """Archive files in the spool (.state/ holds the crawl's own state, never uploaded)."""
    return {p.relative_to(spool).as_posix() for p in spool.rglob("*")
            if p.is_file() and ".state" not in p.parts}  # fmt: skip


def corpus_push(uri: str, spool: Path) -> subprocess.CompletedProcess[str]:
    return scrapy("corpus", "push", "-s", f"ARCHIVE_URI={uri}", "-s", f"ARCHIVE_SPOOL={spool}",
                  *UPLOAD, timeout=120)  # fmt: skip


def check_spooled_run(result: subprocess.CompletedProcess[str], run_dir: Path) -> dict[str, Any]:
    """The crawl ended as documented: manifest in the spool, incomplete, every file listed
    there and whole; error lines, no traceback. Returns the manifest."""
    log = result.stderr
    assert result.returncode == 5, log[-3000:]  # 5: uploads left in the spool
    assert "Traceback" not in log and "Error caught on signal handler" not in log, log[-5000:]
    assert KEPT in log and "run `scrapy corpus push`" in log, log[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert manifest["files"] and {f["stored"] for f in manifest["files"]} == {"spool"}
    for entry in manifest["files"]:
        data = (run_dir.parents[1] / entry["key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["key"]
    assert manifest["stats"]["articles"] == 3
    assert manifest["outcome"]["status"] == "spooled" and manifest["outcome"]["exit_code"] == 5
    return manifest


def check_pushed_run(bucket: str, prefix: str, spooled_manifest: dict[str, Any]) -> None:
    stored = s3_objects(bucket, prefix)
    manifest = json.loads(stored.pop("manifest.json"))
    listed = {f["key"].removeprefix(f"news/{RUN_ID}/"): f for f in manifest["files"]}
    assert set(stored) == set(listed)
    for name, body in stored.items():
        assert hashlib.sha256(body).hexdigest() == listed[name]["sha256"], name
    assert manifest["complete"] is True and manifest["pushed_at"]
    assert {f["stored"] for f in manifest["files"]} == {"archive"}
    assert [f["key"] for f in manifest["files"]] == [f["key"] for f in spooled_manifest["files"]]
    assert manifest["outcome"] == {
        "exit_code": 0, "status": "ok",
        "why": f"uploaded by scrapy corpus push at {manifest['pushed_at']}",
    }  # fmt: skip
    assert manifest["stats"] == spooled_manifest["stats"]  # the rest as the crawl wrote it


def no_bucket(bucket: str, endpoint: str, auth: Callable[[str], None]) -> Callable[[], None]:
    return lambda: boto3.client("s3").create_bucket(Bucket=bucket)


def access_denied(bucket: str, endpoint: str, auth: Callable[[str], None]) -> Callable[[], None]:
    """A user who may read the bucket but not write to it."""
    boto3.client("s3").create_bucket(Bucket=bucket)
    iam = boto3.client("iam")
    user = f"reader-{bucket}"
    iam.create_user(UserName=user)
    policy = iam.create_policy(PolicyName=user, PolicyDocument=json.dumps(READ_ONLY))
    iam.attach_user_policy(UserName=user, PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    good = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    auth("0")

    def fix() -> None:
        auth("inf")
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = good

    return fix


def wrong_credentials(
    bucket: str, endpoint: str, auth: Callable[[str], None]
) -> Callable[[], None]:
    boto3.client("s3").create_bucket(Bucket=bucket)
    good = os.environ["AWS_ACCESS_KEY_ID"]
    os.environ["AWS_ACCESS_KEY_ID"] = "AKIANOSUCHKEY0000000"
    auth("0")

    def fix() -> None:
        auth("inf")
        os.environ["AWS_ACCESS_KEY_ID"] = good

    return fix


def unreachable(bucket: str, endpoint: str, auth: Callable[[str], None]) -> Callable[[], None]:
    """A closed port on loopback: every connection is refused."""
    boto3.client("s3").create_bucket(Bucket=bucket)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["AWS_MAX_ATTEMPTS"] = "1"  # boto3's own request retries: the test stays fast

    def fix() -> None:
        os.environ["AWS_ENDPOINT_URL"] = endpoint

    return fix


# the S3 error in the log; whether the store gave up on the bucket at the first error
FAILURES = {
    "no_bucket": (no_bucket, "NoSuchBucket", True),
    "access_denied": (access_denied, "AccessDenied", True),
    "wrong_credentials": (wrong_credentials, "InvalidAccessKeyId", True),
    "unreachable": (unreachable, "Could not connect to the endpoint URL", False),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_s3_failure_spools_the_run_and_push_uploads_it(
    failure: str,
    moto: Moto,  # noqa: F811
    moto_auth: Callable[[str], None],
    site: HostileSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_failure, error, gives_up = FAILURES[failure]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(name, os.environ[name])  # put back at teardown, whatever we set
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    bucket = f"{failure.replace('_', '-')}-{secrets.token_hex(4)}"  # moto's state is per process
    uri, spool = f"s3://{bucket}/crawls", tmp_path / "spool"
    fix = make_failure(bucket, moto.endpoint, moto_auth)

    result = scrapy(
        "crawl", "news", "-a", f"urls={site.base}/,{site.base}/news/good-story/",
        "-s", f"ARCHIVE_URI={uri}", "-s", f"ARCHIVE_SPOOL={spool}",
        "-s", f"ARCHIVE_RUN_ID={RUN_ID}", *GUARDED, *UPLOAD, timeout=120,
    )  # fmt: skip
    run_dir = spool / bucket / "crawls" / "news" / RUN_ID
    manifest = check_spooled_run(result, run_dir)
    log = result.stderr
    assert error in log, log[-3000:]
    files = len(manifest["files"])
    assert log.count(KEPT) == files, log[-5000:]  # one line per file
    if gives_up:  # no retries against a bucket that cannot be written
        assert "retrying" not in log and log.count("cannot be written") == files + 1, log[-5000:]
    else:  # a network error: every file is still tried, with its retries
        assert log.count("retrying") == 2 * files, log[-5000:]

    still_broken = corpus_push(uri, spool)
    assert still_broken.returncode != 0, still_broken.stdout + still_broken.stderr
    assert "Traceback" not in still_broken.stderr, still_broken.stderr[-3000:]
    assert f"{files + 1} left in the spool" in still_broken.stdout
    assert json.loads((run_dir / "manifest.json").read_text()) == manifest  # untouched

    fix()
    assert not s3_objects(bucket, "crawls/")  # nothing got through the failure
    pushed = corpus_push(uri, spool)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert f"uploaded {files + 1} file(s)" in pushed.stdout
    check_pushed_run(bucket, f"crawls/news/{RUN_ID}/", manifest)
    assert not spooled(spool)
