"""Seed files: good lines become seeds; bad lines are reported with file:line and skipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.discovery.seeds import Seed, SeedError, check_url, read_seeds, split_urls
from tests.conftest import PROJECT_ROOT

# Where the user is shown `-a seeds=PATH` examples that should work in a fresh clone.
DOCUMENTED = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md")),
              PROJECT_ROOT / "crawler" / "spiders" / "news.py"]  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_file_lines_comments_and_errors(tmp_path: Path) -> None:
    seed_file = write(
        tmp_path / "world.txt",
        "# world news\n"
        "\n"
        "https://news.example.org/world/\n"
        "   https://news.example.org/feed.xml   # the RSS feed\n"
        "not-a-url\n"
        "ftp://files.example.org/news.txt\n"
        "file:///etc/passwd\n"
        "https://news.example.org/a b\n"
        "http://:80/\n"
        "HTTPS://News.Example.org/Caf\u00e9\n",
    )
    found = list(read_seeds(seed_file))
    seeds = [s for s in found if isinstance(s, Seed)]
    errors = [s for s in found if isinstance(s, SeedError)]
    assert [s.url for s in seeds] == [
        "https://news.example.org/world/",
        "https://news.example.org/feed.xml",
        "https://news.example.org/Caf%C3%A9",  # scheme and host lower-cased, path escaped
    ]
    assert [s.source for s in seeds] == [f"{seed_file}:3", f"{seed_file}:4", f"{seed_file}:10"]
    by_line = {e.source.rsplit(":", 1)[1]: str(e) for e in errors}
    assert sorted(by_line) == ["5", "6", "7", "8", "9"]
    assert "missing scheme" in by_line["5"]
    assert "unsupported scheme 'ftp'" in by_line["6"] and "ftp://files.example.org" in by_line["6"]
    assert "unsupported scheme 'file'" in by_line["7"] and "/etc/passwd" in by_line["7"]
    assert "white space" in by_line["8"]
    assert "no host" in by_line["9"]
    assert all(str(seed_file) in e for e in by_line.values())


def test_seed_folder_reads_every_seed_file_sorted(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "https://b.example.org/\n")
    write(tmp_path / "sub" / "a.txt", "https://a.example.org/\n")
    write(tmp_path / "notes.md", "https://ignored.example.org/\n")
    urls = [s.url for s in read_seeds(tmp_path) if isinstance(s, Seed)]
    assert urls == ["https://b.example.org/", "https://a.example.org/"]


def test_missing_and_unreadable_seed_inputs_are_errors(tmp_path: Path) -> None:
    (missing,) = read_seeds(tmp_path / "nope.txt")
    assert isinstance(missing, SeedError) and "does not exist" in str(missing)
    (tmp_path / "empty").mkdir()
    (empty,) = read_seeds(tmp_path / "empty")
    assert isinstance(empty, SeedError) and "no seed files" in str(empty)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"https://ok.example.org/\nhttps://caf\xe9.example.org/\n")
    found = list(read_seeds(bad))
    assert isinstance(found[0], Seed)  # the good line is kept
    assert isinstance(found[1], SeedError)
    assert found[1].source == f"{bad}:2" and "not UTF-8" in str(found[1])


def test_urls_argument() -> None:
    found = list(split_urls("https://a.example.org/, ,javascript:alert(1),http://b.example.org"))
    assert [getattr(s, "url", None) for s in found] == [
        "https://a.example.org/",
        None,
        "http://b.example.org/",  # the URL standard's form: an empty path is "/"
    ]
    assert found[1].source == "urls[2]"
    assert check_url("http://b.example.org?q=1") == "http://b.example.org/?q=1"


@pytest.mark.parametrize(
    "url",
    [
        "data:text/html,hi",
        "mailto:desk@example.org",
        "//example.org/x",
        "http://example.org:99999/",
    ],
)
def test_check_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


def documented_seed_paths() -> set[str]:
    found = set()
    for doc in DOCUMENTED:
        # a path (has a / or a .), not a placeholder such as PATH
        text = doc.read_text(encoding="utf-8")
        found |= set(re.findall(r"-a seeds=([\w-]*[/.][\w./-]*)", text))
    return found


def test_every_documented_seed_path_exists_and_parses() -> None:
    paths = documented_seed_paths()
    assert {"seeds/world.txt", "seeds/"} <= paths  # the README's own examples
    for name in sorted(paths):
        found = list(read_seeds(PROJECT_ROOT / name))  # read only: tests never fetch these
        errors = [str(e) for e in found if isinstance(e, SeedError)]
        assert not errors, (name, errors)
        assert [s for s in found if isinstance(s, Seed)], name


def test_seed_folder_reads_every_bundled_file() -> None:
    folder = PROJECT_ROOT / "seeds"
    files = sorted(folder.glob("*.txt"))
    assert len(files) >= 2
    sources = {s.source.rsplit(":", 1)[0] for s in read_seeds(folder) if isinstance(s, Seed)}
    assert sources == {str(f) for f in files}


def test_comment_only_seeds_say_so(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "# https://news.example.org/\n\n")
    write(tmp_path / "b.txt", "   # nothing yet\n")
    (error,) = read_seeds(tmp_path)
    assert isinstance(error, SeedError)
    assert str(error).startswith(
        f"{tmp_path}: no URL in {tmp_path / 'a.txt'}, {tmp_path / 'b.txt'}"
    )
    assert "only comments or blank lines" in str(error)
