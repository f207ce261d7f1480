"""Deploy to a real local Scrapyd with `scrapyd-deploy`, schedule `news`, and check the archive.

Everything runs on 127.0.0.1: Scrapyd on a free port with its own scrapyd.conf in a temp dir,
the demo news site from `crawler.demo.server`. The egg is built by scrapyd-deploy from the
project's own files (setup.py + pyproject.toml), as a fresh clone would build it.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from crawler.demo.server import DemoServer
from tests.conftest import ALLOW_LOOPBACK, PROJECT_ROOT

pytestmark = pytest.mark.slow

PROJECT = "newsarchiver"
VERSION = "scrapyd-test"
RUN_ID = "scrapyd-run"
BIN = Path(sys.executable).parent
JOB_TIMEOUT = 180  # seconds for the scheduled crawl to finish
MIN_ARTICLES = 13


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Scrapyd:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def output(self) -> Path:
        return self.home / "scrapyd.out"

    def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        query = f"?{urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{endpoint}{query}", timeout=10) as response:
            return json.load(response)

    def post(self, endpoint: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        data = urlencode(params).encode()
        with urllib.request.urlopen(f"{self.url}{endpoint}", data=data, timeout=30) as response:
            return json.load(response)

    def job_log(self, spider: str, job: str) -> str:
        path = self.home / "logs" / PROJECT / spider / f"{job}.log"
        if not path.exists():
            return f"(no job log at {path})"
        return path.read_text(encoding="utf-8", errors="replace")

    def daemon_log(self) -> str:
        if not self.output.exists():
            return "(no scrapyd output)"
        return self.output.read_text(encoding="utf-8", errors="replace")


def write_conf(home: Path, port: int) -> None:
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\n"
        "items_dir =\n"
        f"dbs_dir = {home / 'dbs'}\n"
        "jobs_to_keep = 5\n"
        "max_proc = 1\n"
        "poll_interval = 0.5\n",
        encoding="utf-8",
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    home = tmp_path_factory.mktemp("scrapyd")
    port = free_port()
    write_conf(home, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPYD_", "SCRAPY_"))}
    # Environment variables beat any scrapyd.conf a machine may have (/etc, ~/.scrapyd.conf).
    env |= {"SCRAPYD_BIND_ADDRESS": "127.0.0.1", "SCRAPYD_HTTP_PORT": str(port)}
    with (home / "scrapyd.out").open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "scrapyd"), "--pidfile="],
            cwd=home,  # scrapyd reads ./scrapyd.conf; jobs run here, far from the repo's scrapy.cfg
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Scrapyd(f"http://127.0.0.1:{port}/", home, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"scrapyd exited with {process.returncode}:\n{server.daemon_log()}")
            try:
                if server.get("daemonstatus.json").get("status") == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"scrapyd did not answer on {server.url}:\n{server.daemon_log()}")
            time.sleep(0.2)
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="module")
def deployed(scrapyd: Scrapyd) -> Path:
    """Run `scrapyd-deploy` from the repo root; return the egg Scrapyd stored."""
    # A target for this port, in a scrapy.cfg Scrapy reads besides the repo's own one.
    xdg = scrapyd.home / "xdg"
    xdg.mkdir()
    (xdg / "scrapy.cfg").write_text(
        f"[deploy:scrapyd-test]\nurl = {scrapyd.url}\nproject = {PROJECT}\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPYD_", "SCRAPY_"))}
    env["XDG_CONFIG_HOME"] = str(xdg)
    result = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "scrapyd-test", "--version", VERSION],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{scrapyd.daemon_log()}"
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok", answer
    assert answer["project"] == PROJECT and answer["version"] == VERSION, answer
    assert answer["spiders"] >= 1, answer
    eggs = list((scrapyd.home / "eggs" / PROJECT).glob("*.egg"))
    assert len(eggs) == 1, eggs
    return eggs[0]


def test_deployed_egg_holds_the_whole_project(scrapyd: Scrapyd, deployed: Path) -> None:
    with zipfile.ZipFile(deployed) as egg:
        names = set(egg.namelist())
        entry_points = egg.read("EGG-INFO/entry_points.txt").decode()
    for name in [
        "settings.py",
        "crawler/spiders/news.py",
        "crawler/extract/extraction.py",
        "crawler/demo/server.py",
        "crawler/demo/pages.json",
        "crawler/demo/site/index.html",
        "crawler/demo/site/feed.xml",
        "pipelines/warc.py",
        "pipelines/text.py",
        "pipelines/manifest.py",
    ]:
        assert name in names, f"{name} missing from the egg"
    assert not any(n.startswith("tests/") for n in names), "tests/ went into the egg"
    assert "[scrapy]" in entry_points and "settings = settings" in entry_points, entry_points
    assert scrapyd.get("listspiders.json", project=PROJECT)["spiders"] == ["news"]
    assert VERSION in scrapyd.get("listversions.json", project=PROJECT)["versions"]


def test_jobs_import_the_project_from_the_egg(scrapyd: Scrapyd, deployed: Path) -> None:
    """The venv also has the editable install: a job must still run the egg's code and data."""
    probe = (
        "import os\n"
        "from scrapyd.runner import project_environment\n"
        f"with project_environment({PROJECT!r}):\n"
        "    import crawler.demo.server, pipelines.warc, settings\n"
        "    print(os.environ['SCRAPY_SETTINGS_MODULE'])\n"
        "    for path in (settings.__file__, pipelines.warc.__file__,\n"
        "                 crawler.demo.server.SITE_DIR):\n"
        "        print(path)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPYD_", "SCRAPY_"))}
    env["SCRAPY_PROJECT"] = PROJECT
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe],
        cwd=scrapyd.home,  # as the launcher runs jobs: scrapyd.conf here names the eggs_dir
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module, *paths = result.stdout.splitlines()
    assert module == "settings"
    for path in paths:
        assert Path(path).is_relative_to(deployed), f"{path} is not from {deployed}"


def wait_finished(scrapyd: Scrapyd, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        jobs = scrapyd.get("listjobs.json", project=PROJECT)
        for finished in jobs["finished"]:
            if finished["id"] == job:
                return finished
        time.sleep(0.5)
    raise AssertionError(f"job {job} not finished after {JOB_TIMEOUT} s: {jobs}")


def count_lines(shards: list[Path]) -> int:
    count = 0
    for shard in shards:
        with gzip.open(shard, "rt", encoding="utf-8") as handle:
            count += sum(1 for line in handle if line.strip())
    return count


def test_scheduled_crawl_runs_to_completion(
    scrapyd: Scrapyd, deployed: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    with DemoServer() as site:
        answer = scrapyd.post(
            "schedule.json",
            [
                ("project", PROJECT),
                ("spider", "news"),
                ("urls", f"{site.base_url}/"),
                ("setting", f"ARCHIVE_URI={archive}"),
                ("setting", f"ARCHIVE_RUN_ID={RUN_ID}"),
                ("setting", "AUTOTHROTTLE_ENABLED=False"),
                ("setting", "DOWNLOAD_DELAY=0"),
                ("setting", ALLOW_LOOPBACK),
            ],
        )
        assert answer["status"] == "ok", answer
        job = answer["jobid"]
        try:
            wait_finished(scrapyd, job)
        except AssertionError:
            print(f"--- job log ---\n{scrapyd.job_log('news', job)}")
            print(f"--- scrapyd ---\n{scrapyd.daemon_log()}")
            raise

    run_dir = archive / "news" / RUN_ID
    log = scrapyd.job_log("news", job)
    try:
        died = [line for line in scrapyd.daemon_log().splitlines() if "Process died" in line]
        assert not died, died
        assert "Spider closed (finished)" in log
        assert list((run_dir / "warc").glob("*.warc.gz")), "no WARC file"
        shards = list((run_dir / "text").glob("*.jsonl.gz"))
        assert shards, "no text shard"
        assert count_lines(shards) >= MIN_ARTICLES
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["complete"] is True, manifest
        assert manifest["finish_reason"] == "finished", manifest
        assert manifest["stats"]["articles"] >= MIN_ARTICLES, manifest
    except (AssertionError, OSError):
        files = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
        print(f"--- archive files ---\n{files}\n--- job log ---\n{log}")
        print(f"--- scrapyd ---\n{scrapyd.daemon_log()}")
        raise
