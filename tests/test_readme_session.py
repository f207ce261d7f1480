"""The researcher session of the docs, run as written (#16, #20, #24): its shell commands and its
DuckDB/pandas snippet, taken from docs/corpus.md between the `researcher-session` markers, against
a local archive made by a real crawl of the demo site. Only the archive's address changes:
the README's S3 bucket becomes the local folder.

Step 0 (`make research`) runs for real, into a new virtualenv of its own (`VENV=`): the runtime
and research locks, nothing of the test extras. The package is then replaced by a wheel built
as the README says, and the commands run with that virtualenv in a fresh folder outside the
project, as a researcher with the package installed would run them."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from crawler.demo.server import DemoServer
from tests.conftest import FAST, PROJECT_ROOT, scrapy

README = PROJECT_ROOT / "docs" / "corpus.md"  # linked from README.md, "More"
SESSION = re.compile(r"<!-- researcher-session\b.*?-->(.*?)<!-- /researcher-session -->", re.S)
FENCE = re.compile(r"```(sh|python)\n(.*?)```", re.S)
README_ARCHIVE = "s3://news-archive/crawls"
INSTALL_LINE = "make research && . .venv/bin/activate"
# README "Using the archive": installing into an environment of your own, from a clone
WHEEL_LINE = re.compile(r"^pip wheel (.*) && pip install (.*dist/newsarchiver-\*\.whl)$", re.M)


def session_blocks() -> tuple[list[str], str]:
    """The session's shell commands (continuation lines joined, comments dropped) and its
    Python code."""
    marked = SESSION.findall(README.read_text(encoding="utf-8"))
    assert len(marked) == 1, "docs/corpus.md: mark the researcher session once"
    blocks = FENCE.findall(marked[0])
    shell = "\n".join(code for lang, code in blocks if lang == "sh").replace("\\\n", " ")
    commands = [line.strip() for line in shell.splitlines()]
    python = "\n".join(code for lang, code in blocks if lang == "python")
    return [c for c in commands if c and not c.startswith("#")], python


@pytest.fixture(scope="module")
def archive(demo_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("session") / "archive"
    crawled = scrapy("crawl", "news", "-a", f"urls={demo_server.base_url}/",
                     "-s", f"ARCHIVE_URI={root}", *FAST)  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def research_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Step 0 for real: `make research` into a new virtualenv, then the README's wheel line."""
    venv = tmp_path_factory.mktemp("research") / "venv"
    # UV_COMPILE= : no bytecode compiled ahead for the few commands the session runs
    command = ["make", "-s", "research", f"VENV={venv}", "UV_COMPILE="]
    made = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, (made.stdout[-3000:], made.stderr[-3000:])
    python = venv / "bin" / "python"
    found = WHEEL_LINE.search(README.read_text(encoding="utf-8"))
    assert found, "docs/corpus.md: the `pip wheel ... && pip install ...` line"
    build, install = (shlex.split(part) for part in found.groups())
    clone = copy_of_the_clone(venv.parent / "clone")  # setuptools builds in the source tree
    dist = venv.parent / "dist"
    build = [str(dist) if arg == "dist/" else arg for arg in build]
    built = subprocess.run([python, "-m", "pip", "wheel", *build], cwd=clone,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("newsarchiver-*.whl")
    install = [str(wheel) if arg.endswith(".whl") else arg for arg in install]
    # over the editable install `make research` made: what a researcher without a clone has
    installed = subprocess.run([python, "-m", "pip", "install", "--force-reinstall", *install],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python


def copy_of_the_clone(dest: Path) -> Path:
    """The project's files as a clone has them (tracked, plus new ones not ignored)."""
    ls_files = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(ls_files, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        source = PROJECT_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_the_readme_session_runs_as_written(
    archive: Path, research_python: Path, tmp_path: Path
) -> None:
    commands, python = session_blocks()
    assert commands[0] == INSTALL_LINE  # run by the research_python fixture
    commands = commands[1:]
    assert [shlex.split(c)[:3] for c in commands] == [
        ["scrapy", "corpus", "ls"], ["scrapy", "corpus", "get"], ["scrapy", "corpus", "export"],
    ]  # fmt: skip
    # the wheel, not the checkout, is what runs (the folder is outside the project)
    where = subprocess.run([research_python, "-c", "import corpus; print(corpus.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)  # fmt: skip
    assert "site-packages" in where.stdout and str(PROJECT_ROOT) not in where.stdout
    outputs = []
    for command in commands:
        argv = [arg.replace(README_ARCHIVE, str(archive)) for arg in shlex.split(command)]
        done = subprocess.run([research_python, "-m", *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, (command, done.stdout, done.stderr[-3000:])
        assert "Traceback" not in done.stderr, command
        outputs.append(done.stdout)
    assert "complete" in outputs[0]  # ls saw the crawl's run
    assert "1 matching record(s)" in outputs[1]  # the demo's one German article of November
    assert (tmp_path / "dataset" / "README.md").is_file()  # the card

    # The snippet as written, then what it left behind, from the same interpreter.
    report = (
        "\nimport json\n"
        "print(json.dumps({'rows': len(frame), 'hits': hits.to_dict('records'),"
        " 'pub_date': str(frame.pub_date.dtype)}, default=str))\n"
    )
    ran = subprocess.run([research_python, "-c", python + report], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    table, result = ran.stdout.rsplit("\n", 2)[0], json.loads(ran.stdout.splitlines()[-1])
    assert "pub_date" in table and "2026-11-06" in table  # DuckDB's .show() printed the count
    assert result["rows"] == 1
    (hit,) = result["hits"]
    assert hit["pub_date"].startswith("2026-11-06") and hit["date"].endswith("+01:00")
    assert re.fullmatch(r"[0-9a-f]{32}", hit["record_id"])
