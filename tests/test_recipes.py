"""The cron and systemd recipes (docs/operations.md) work as written on a fresh clone.

Each recipe is read from docs/operations.md, its machine paths swapped for a temporary clone of this
project (its tracked files and the virtualenv, no `logs/`), a temporary archive and a site on
127.0.0.1, and run as cron and systemd would run it: the cron line in `sh -c` with cron's
bare environment, the unit checked by `systemd-analyze verify` (when installed) and its
ExecStart run in its WorkingDirectory.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests import test_hostile
from tests.conftest import FAST, PROJECT_ROOT
from tests.test_hostile import HostileSite, home

site = test_hostile.site  # the fixture: robots.txt and one good article on 127.0.0.1

README = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}  # all cron gives a job (and HOME)
PROJECT_DIR = "/srv/newsarchiver"  # where the recipes expect the clone
SEEDS = "-a seeds=seeds/"


def readme_block(language: str) -> str:
    (block,) = re.findall(rf"^```{language}\n(.*?)^```$", README, re.M | re.S)
    return block


def swap(text: str, replacements: dict[str, str]) -> str:
    """Every machine-specific part must be there: a changed recipe fails here, loudly."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the recipe: update this test"
        text = text.replace(old, new)
    return text


def fresh_clone(tmp_path: Path) -> Path:
    """What `git clone` and `make install` leave: tracked files and .venv, linked."""
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    clone = tmp_path / "newsarchiver"
    clone.mkdir()
    for name in {path.split("/", 1)[0] for path in tracked}:
        if (PROJECT_ROOT / name).exists():
            (clone / name).symlink_to(PROJECT_ROOT / name)
    (clone / ".venv").symlink_to(sys.prefix)  # the virtualenv running the tests (make test-latest)
    assert not (clone / "logs").exists()
    return clone


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cron_command(clone: Path, tmp_path: Path, url: str) -> str:
    line = readme_block("cron").strip()
    assert "\n" not in line, "the cron recipe is one crontab line"
    minute, hour, day, month, weekday, command = line.split(None, 5)
    assert (minute, hour, day, month, weekday) == ("0", "*", "*", "*", "*")
    command = swap(command, {
        PROJECT_DIR: str(clone),
        "/tmp/news-crawl.lock": str(tmp_path / "news-crawl.lock"),
        SEEDS: f"-a urls={url}",
        "s3://news-archive/crawls": str(tmp_path / "archive"),
    })  # fmt: skip
    return f"{command} {shlex.join(FAST)}"


def test_cron_line_runs_on_a_fresh_clone(site: HostileSite, tmp_path: Path) -> None:
    site.pages["/"] = home()
    clone = fresh_clone(tmp_path)
    env = {**CRON_ENV, "HOME": str(tmp_path)}
    run = subprocess.run(["sh", "-c", cron_command(clone, tmp_path, f"{site.base}/")], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    log = clone / "logs" / "news.log"
    assert run.returncode == 0, run.stderr[-3000:] + (log.read_text() if log.exists() else "")
    assert run.stderr == "", "a good run mails cron nothing"
    assert "Spider closed (finished)" in log.read_text()
    assert list((tmp_path / "archive" / "news").glob("*/manifest.json"))
    # a failed run: its exit status, and one line for cron to mail
    dead = f"http://127.0.0.1:{closed_port()}/"
    failed = subprocess.run(["sh", "-c", cron_command(clone, tmp_path, dead)], env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert failed.returncode == 3, failed.stderr[-3000:]
    assert re.fullmatch(
        r"scrapy crawl: failed \(exit 3\): nothing fetched: [^\n]+\n", failed.stderr
    )


def test_systemd_unit_is_valid_and_its_command_runs(site: HostileSite, tmp_path: Path) -> None:
    site.pages["/"] = home()
    clone = fresh_clone(tmp_path)
    archive = tmp_path / "archive"
    units = swap(readme_block("ini"), {
        PROJECT_DIR: str(clone), SEEDS: f"-a urls={site.base}/", "/data/archive": str(archive),
    })  # fmt: skip
    files = re.split(r"^# /etc/systemd/system/(\S+)\n", units, flags=re.M)[1:]
    written = {name: tmp_path / name for name in files[::2]}
    assert set(written) == {"news-crawl.service", "news-crawl.timer"}
    for path, text in zip(written.values(), files[1::2], strict=True):
        path.write_text(text, encoding="utf-8")
    service = files[1]
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *map(str, written.values())],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert verify.returncode == 0 and "news-crawl" not in verify.stderr, verify.stderr
    (workdir,) = re.findall(r"^WorkingDirectory=(.+)$", service, re.M)
    (command,) = re.findall(r"^ExecStart=(.+)$", service, re.M)
    run = subprocess.run([*shlex.split(command), *FAST], cwd=workdir, capture_output=True,
                         text=True, timeout=120, env=CRON_ENV)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(archive.glob("news/*/manifest.json"))
