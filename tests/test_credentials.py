"""Credentials in a seed URL (#21): `-a urls=http://alice:S3cretPW@host/a/1` wrote the password
into manifest.json (`scope.seeds`), the exported dataset card and a handful of log lines, and
the seed could not even be fetched ("invalid hostname").

Chosen (README "Seeds"): such a seed stops the run at start-up, exit 2, with one line that
names the seed and shows its URL as `http://***@host/...`. Through the real CLI, the password
must then be nowhere: not on stdout or stderr (with -L DEBUG's traceback too), not in any file
of the archive folder (gzip members decompressed).
"""

from __future__ import annotations

import contextlib
import gzip
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FAST, scrapy
from tests.test_hostile import HostileSite, home, site  # noqa: F401

PASSWORD = "S3cretPW"
STARTUP_ERROR = re.compile(r"^scrapy crawl: error: .+$", re.M)


def crawl(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return scrapy(
        "crawl", "news", "-s", f"ARCHIVE_URI={archive}", "-s", "ARCHIVE_RUN_ID=creds", *FAST,
        *args, timeout=120,
    )  # fmt: skip


def written_anywhere(folder: Path, secret: str) -> list[str]:
    """Files under `folder` holding `secret`, gzip files read decompressed (WARCs, shards)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):  # a torn member: the raw bytes then
                data = gzip.decompress(data)
        if secret.encode() in data:
            found.append(str(path))
    return found


def assert_refused(result: subprocess.CompletedProcess[str], where: str, shown: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert PASSWORD not in result.stdout + result.stderr
    (line,) = STARTUP_ERROR.findall(result.stderr)
    assert line.startswith(f"scrapy crawl: error: {where}: a seed URL with user:password@ is ")
    assert line.endswith(shown), line


@pytest.mark.parametrize("userinfo", [f"alice:{PASSWORD}", f"alice%40home:{PASSWORD}"])
def test_a_seed_with_a_password_is_refused_and_never_written(
    site: HostileSite,  # noqa: F811
    tmp_path: Path,
    userinfo: str,
) -> None:
    site.pages["/"] = home()
    archive = tmp_path / "archive"
    secret_seed = site.base.replace("://", f"://{userinfo}@") + "/a/1"
    seeds = f"urls={site.base}/,{secret_seed}"  # a good seed too: the run does not go on
    result = crawl(archive, "-a", seeds)
    assert_refused(result, "urls[1]", f"http://***@127.0.0.1:{site.port}/a/1")
    assert "Traceback" not in result.stderr
    debug = crawl(archive, "-a", seeds, "-L", "DEBUG")  # the traceback, and every log line
    assert_refused(debug, "urls[1]", f"http://***@127.0.0.1:{site.port}/a/1")
    assert "Traceback (most recent call last)" in debug.stderr
    assert site.requests == [], "nothing was fetched"
    assert written_anywhere(tmp_path, PASSWORD) == []


def test_a_seed_file_line_with_credentials_stops_the_run(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    site.pages["/"] = home()
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text(
        f"# our sites\n{site.base}/\nhttp://alice:{PASSWORD}@127.0.0.1:{site.port}/private/\n"
        f"http://bob@127.0.0.1:{site.port}/only-a-user/\n"
    )
    archive = tmp_path / "archive"
    result = crawl(archive, "-a", f"seeds={seed_file}")
    assert_refused(result, f"{seed_file}:3", f"http://***@127.0.0.1:{site.port}/private/")
    # a password that splits the URL (a '/' in it) is not echoed in part either
    seed_file.write_text(f"http://alice:{PASSWORD[:4]}/{PASSWORD[4:]}@127.0.0.1/x\n")
    torn = crawl(archive, "-a", f"seeds={seed_file}")
    assert_refused(torn, f"{seed_file}:1", "(and this one is malformed): http://***")
    assert PASSWORD[:4] not in torn.stderr.split("scrapy crawl: error:")[-1]
    assert site.requests == []
    assert written_anywhere(tmp_path / "archive", PASSWORD) == []  # (seeds.txt is outside)
