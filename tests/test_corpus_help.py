"""`scrapy corpus` for a first-time user (#16): every action has its own `--help` with its
options and an example, `scrapy corpus --help` keeps its layout, `scrapy extract --help` lists
its options, and the commands run the same from a folder outside the project (no settings.py,
no scrapy.cfg): the real CLI in a subprocess each time."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.cli import ACTIONS
from tests.conftest import PROJECT_ROOT, scrapy
from tests.test_corpus import corpus, write_run

OPTIONS = {  # action -> options its help must list
    "ls": ["--spider", "--json", "--anonymous"],
    "get": ["--dest", "--warc", "--wacz", "--limit-rate", "--since", "--until", "--domain"],
    "export": ["--out", "--format", "--keep-duplicates", "--threshold", "--cache", "--language"],
    "report": ["--out", "--cache", "RUN", "ARCHIVE"],
    "wacz": ["RUN", "ARCHIVE", "--spider"],
    "push": [],
    "reextract": ["RUN", "ARCHIVE", "--processes", "--spider"],
}


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_has_its_own_help(action: str) -> None:
    got = corpus(action, "--help")
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith(f"usage: scrapy corpus {action} ")
    for option in OPTIONS[action]:
        assert option in got.stdout, (action, option)
    example = got.stdout.split("example:\n", 1)[1].splitlines()[0]
    assert example.strip().startswith(f"scrapy corpus {action}")
    assert "-s NAME=VALUE" in got.stdout  # Scrapy's own options still work with an action
    # options of one action only are on its own page only
    for option, owner in (("--dest", "get"), ("--keep-duplicates", "export"),
                          ("--processes", "reextract"), ("--json", "ls")):  # fmt: skip
        assert (f"\n  {option} " in got.stdout) == (action == owner), (action, option)


def test_corpus_help_keeps_its_line_breaks() -> None:
    got = corpus("--help")
    assert got.returncode == 0, got.stderr
    listing = [
        line.split()[2] for line in got.stdout.splitlines() if line.startswith("  scrapy corpus ")
    ][1:]  # after the usage line
    assert sorted(listing) == sorted(ACTIONS)  # one line each, as written
    assert "Global Options" in got.stdout  # Scrapy's page, its description not reflowed


def test_an_option_error_names_the_action() -> None:
    got = corpus("export", "archive")
    assert got.returncode == 2
    assert "scrapy corpus export: error: the following arguments are required: --out" in got.stderr


def test_extract_help_lists_its_options_and_an_example() -> None:
    got = scrapy("extract", "--help", timeout=60)
    assert got.returncode == 0, got.stderr
    assert "--url URL" in got.stdout
    assert "scrapy extract page.html --url https://" in got.stdout
    assert "scrapy extract archive/news/RUN/warc/*.warc.gz" in got.stdout
    assert "\n  scrapy extract https://" in got.stdout  # the example keeps its own line


# --- outside the project ----------------------------------------------------------------------

PARAGRAPH = "The harbour board published its yearly figures on a windy {day} morning. " * 12


def record(n: int, day: str) -> dict[str, object]:
    url = f"https://harbour.example/news/{n}/"
    return {
        "id": f"rec{n}", "url": url, "canonical_url": url, "title": f"Story {n}",
        "text": f"Story number {n}. " + PARAGRAPH.format(day=day) + f"Closing line {n}.",
        "date": f"{day}T09:00:00+02:00", "language": "en",
        "fetched_at": "2026-11-25T08:00:00Z", "warc_filename": None,
    }  # fmt: skip


def test_export_runs_outside_the_project(tmp_path: Path) -> None:
    """No settings.py: the CORPUS_DEDUP_* defaults come from the code that uses them."""
    archive = tmp_path / "archive"
    write_run(archive, "run-a", [record(1, "2026-11-23"), record(2, "2026-11-24")])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    assert not any((p / "scrapy.cfg").exists() for p in (elsewhere, *elsewhere.parents))
    inside = corpus("export", str(archive), "--out", str(tmp_path / "in"), "--format", "jsonl")
    outside = corpus("export", str(archive), "--out", str(tmp_path / "out"), "--format", "jsonl",
                     cwd=elsewhere, env=env)  # fmt: skip
    assert outside.returncode == 0, outside.stderr
    assert inside.returncode == 0, inside.stderr
    assert outside.stdout.replace("/out ", "/in ") == inside.stdout
    for run in ("in", "out"):
        with gzip.open(tmp_path / run / "data" / "articles.jsonl.gz", "rt") as handle:
            assert sorted(json.loads(line)["id"] for line in handle) == ["rec1", "rec2"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "threshold = 0.6, num_perm = 128, shingle_words = 5" in card
    listed = corpus("ls", str(archive), "--json", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["run_id"] == "run-a"
    helped = corpus("export", "--help", cwd=elsewhere, env=env)
    assert helped.returncode == 0 and "--keep-duplicates" in helped.stdout
    # the installed `scrapy` script, as a researcher outside the project runs it
    script = Path(sys.executable).parent / "scrapy"
    listed = subprocess.run([str(script), "corpus", "ls", str(archive)], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert listed.returncode == 0 and "run-a" in listed.stdout, listed.stderr
    assert PROJECT_ROOT not in elsewhere.parents
