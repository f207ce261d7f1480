"""Issue #24, through the real commands on a real crawl of the demo site: `corpus wacz` lists
its WACZ in the manifest (so `ls` and `get --wacz` see it), re-extraction records the git
commit, the dataset card's title and authors, filters that cannot match say why, plurals,
the local-only help of `wacz`, `report --spider`, and `scrapy extract` without Scrapy's banner."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from crawler.demo.server import DemoServer
from tests.conftest import FAST, PROJECT_ROOT, scrapy
from tests.test_corpus import corpus, write_run

RUN = "fixes-run"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_server: DemoServer) -> Path:
    archive = tmp_path_factory.mktemp("fixes") / "archive"
    result = scrapy(
        "crawl", "news", "-a", f"urls={demo_server.base_url}/",
        "-s", f"ARCHIVE_URI={archive}", "-s", f"ARCHIVE_RUN_ID={RUN}", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return archive


@pytest.fixture
def archive(crawled: Path, tmp_path: Path) -> Path:
    """A private copy, for the commands that write into the run."""
    copy = tmp_path / "archive"
    shutil.copytree(crawled, copy)
    return copy


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(archive: Path) -> dict[str, Any]:
    return json.loads((archive / "news" / RUN / "manifest.json").read_text())


# --- 3. the WACZ in the manifest -----------------------------------------------------------------


def test_corpus_wacz_lists_the_package_so_ls_counts_it_and_get_downloads_it(
    archive: Path, tmp_path: Path
) -> None:
    made = corpus("wacz", RUN, str(archive))
    assert made.returncode == 0, made.stderr
    wacz = archive / "news" / RUN / f"{RUN}.wacz"
    assert Path(made.stdout.strip()) == wacz
    (entry,) = [f for f in manifest_of(archive)["files"] if f["key"].endswith(".wacz")]
    assert entry["key"] == f"news/{RUN}/{RUN}.wacz"
    assert (entry["size"], entry["sha256"]) == (wacz.stat().st_size, sha256(wacz))
    listed = json.loads(corpus("ls", str(archive), "--json").stdout)
    assert listed["wacz_bytes"] == wacz.stat().st_size
    table = corpus("ls", str(archive)).stdout.splitlines()
    assert table[1].split()[table[0].split().index("WACZ") + 1] != "-"  # STARTED is two words

    again = corpus("wacz", RUN, str(archive))  # made again: one entry, the new file's
    assert again.returncode == 0, again.stderr
    entries = [f for f in manifest_of(archive)["files"] if f["key"].endswith(".wacz")]
    assert [e["sha256"] for e in entries] == [sha256(wacz)]

    mirror = tmp_path / "mirror"
    got = corpus("get", str(archive), "--run", RUN, "--wacz", "--dest", str(mirror),
                 "--no-progress")  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert sha256(mirror / "news" / RUN / f"{RUN}.wacz") == sha256(wacz)


def test_get_wacz_of_a_run_without_one_says_so_and_fails(crawled: Path, tmp_path: Path) -> None:
    got = corpus("get", str(crawled), "--run", RUN, "--wacz", "--dest", str(tmp_path / "m"),
                 "--no-progress")  # fmt: skip
    assert got.returncode == 1, got.stdout
    assert f"no WACZ in news/{RUN}" in got.stderr and "scrapy corpus wacz" in got.stderr


# --- 4. re-extraction provenance -----------------------------------------------------------------


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True,
                          text=True, timeout=30)  # fmt: skip


def test_reextract_records_the_commit_and_the_card_names_the_text_version(
    archive: Path, tmp_path: Path
) -> None:
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        pytest.skip("the project is not a git checkout here")
    done = scrapy("corpus", "reextract", RUN, str(archive), "--processes", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    extractor = manifest_of(archive)["text_versions"][-1]["extractor"]
    assert extractor["commit"] == head.stdout.strip()
    assert extractor["dirty"] == bool(git("status", "--porcelain").stdout.strip())

    out = tmp_path / "dataset"
    exported = corpus("export", str(archive), "--out", str(out), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"- `news/{RUN}` (complete): " in card
    assert "rows from its text v2 (`text-v2/`, made by `scrapy corpus reextract`)" in card


# --- 5. title and authors ------------------------------------------------------------------------

# Citation File Format 1.2.0 (https://citation-file-format.github.io/1.2.0/schema), the parts
# the card's block uses: required keys, authors (person or entity), identifiers, references.
PERSON = {
    "type": "object",
    "additionalProperties": False,
    "properties": {k: {"type": "string", "minLength": 1} for k in (
        "family-names", "given-names", "name-particle", "name-suffix", "alias", "affiliation",
        "email", "orcid", "website")},
}  # fmt: skip
ENTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {k: {"type": "string", "minLength": 1} for k in ("name", "email", "website")},
}
AUTHORS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"anyOf": [PERSON, ENTITY]},
}
CFF_1_2_0 = {
    "type": "object",
    "required": ["authors", "cff-version", "message", "title"],
    "properties": {
        "cff-version": {"type": "string", "pattern": r"^1\.2\.0$"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "type": {"enum": ["dataset", "software"]},
        "authors": AUTHORS,
        "identifiers": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["type", "value"], "additionalProperties": False,
            "properties": {"type": {"enum": ["doi", "url", "swh", "other"]},
                           "value": {"type": "string"}, "description": {"type": "string"}}}},
        "references": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["authors", "title", "type"],
            "properties": {"authors": AUTHORS, "title": {"type": "string", "minLength": 1}}}},
    },
}  # fmt: skip


def cff_block(card: str) -> dict[str, Any]:
    block = card.split("## Citation", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    cff = yaml.safe_load(block)
    cff["date-released"] = str(cff["date-released"])  # YAML reads the day as a date
    jsonschema.validate(cff, CFF_1_2_0)
    return cff


def test_card_title_and_authors_are_true_and_the_citation_is_valid_cff(
    crawled: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    got = corpus("export", str(crawled), "--out", str(plain), "--format", "jsonl")
    assert got.returncode == 0, got.stderr
    card = (plain / "README.md").read_text(encoding="utf-8")
    cff = cff_block(card)
    assert str(crawled) not in cff["title"] and str(crawled) not in card.split("\n## ", 1)[0]
    days = re.search(r"published (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", card)
    assert days and cff["title"] == (
        f"News articles crawled by newsarchiver, published {days[1]} to {days[2]}"
    )
    assert f"\n# {cff['title']}\n" in card
    assert cff["authors"] == [{"name": "anonymous"}] and "FILL IN" not in card
    assert "No author was given" in card and "--author" in card
    assert "sorted by path" in cff["identifiers"][0]["description"]

    named = tmp_path / "named"
    got = corpus("export", str(crawled), "--out", str(named), "--format", "jsonl",
                 "--title", "Harbour news, autumn 2026", "--author", "Doe, Jane",
                 "--author", "Harbour Media Lab")  # fmt: skip
    assert got.returncode == 0, got.stderr
    card = (named / "README.md").read_text(encoding="utf-8")
    cff = cff_block(card)
    assert cff["title"] == "Harbour news, autumn 2026" and "\n# Harbour news, autumn 2026\n" in card
    assert cff["authors"] == [
        {"family-names": "Doe", "given-names": "Jane"},
        {"name": "Harbour Media Lab"},
    ]
    assert "Authors: Doe, Jane; Harbour Media Lab." in card


# --- 9. filters that cannot match ----------------------------------------------------------------


@pytest.mark.parametrize("action", ["export", "get"])
def test_filters_that_cannot_match_say_why(crawled: Path, tmp_path: Path, action: str) -> None:
    target = ["--out" if action == "export" else "--dest", str(tmp_path / "out")]
    days = corpus(action, str(crawled), *target, "--since", "2026-12-01", "--until", "2026-11-01")
    assert days.returncode == 2
    assert "--since 2026-12-01 is after --until 2026-11-01" in days.stderr
    language = corpus(action, str(crawled), *target, "--language", "German")
    assert language.returncode == 2
    assert "--language 'German': expected an ISO 639-1 language code such as de" in language.stderr
    assert not (tmp_path / "out").exists()


# --- 10. small text issues -----------------------------------------------------------------------


def test_counts_take_the_singular_for_one(crawled: Path, tmp_path: Path) -> None:
    out = tmp_path / "german"  # the demo site's one German article
    got = corpus("export", str(crawled), "--out", str(out), "--language", "de")
    assert got.returncode == 0, got.stderr
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "\n1 article from 1 domain in 1 language, published " in card
    assert "0 re-fetches" in got.stdout
    record = {"id": "r1", "url": "https://harbour.example/a/", "title": "A", "language": "en",
              "text": "The harbour opened. " * 40, "fetched_at": "2026-11-25"}  # fmt: skip
    write_run(tmp_path / "one", "run-a", [record])
    listed = corpus("ls", str(tmp_path / "one"))
    assert listed.returncode == 0, listed.stderr
    totals = listed.stdout.splitlines()[-1]
    assert totals.startswith("1 run(s): 1 article (") and "1 record in all" in totals


def test_wacz_help_is_local_only_and_report_takes_spider(crawled: Path, tmp_path: Path) -> None:
    helped = corpus("wacz", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--anonymous" not in helped.stdout and "s3://" not in helped.stdout
    assert "--spider" in corpus("report", "--help").stdout
    report = tmp_path / "report.html"
    got = corpus("report", RUN, str(crawled), "--spider", "news", "--out", str(report))
    assert got.returncode == 0 and report.is_file(), got.stderr
    other = corpus("report", RUN, str(crawled), "--spider", "other", "--out", str(report))
    assert other.returncode == 2 and f"no run {RUN!r}" in other.stderr


def test_extract_prints_records_without_scrapys_banner_but_with_warnings(crawled: Path) -> None:
    warc = next((crawled / "news" / RUN / "warc").glob("*.warc.gz"))
    got = scrapy("extract", str(warc), timeout=120)
    assert got.returncode == 0, got.stderr[-2000:]
    assert "started (bot:" not in got.stderr and "[scrapy.utils.log]" not in got.stderr
    assert [line.split(": ", 1)[0] for line in got.stderr.splitlines()] == [str(warc)]
    # a warning still reaches stderr: the SSRF guard refuses a loopback URL (nothing is sent)
    refused = scrapy("extract", "http://127.0.0.1:9/story/", timeout=120)
    assert "WARNING: Refused GET http://127.0.0.1:9/story/" in refused.stderr
    assert "started (bot:" not in refused.stderr
    chosen = scrapy("extract", str(warc), "-L", "INFO", timeout=120)  # -L still chooses
    assert "started (bot:" in chosen.stderr
