"""Archive keys never leave the archive root; stores are chosen by URI scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.storage_base import check_key, safe_segment
from pipelines.storage import FSArchiveStore, get_store


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("news", "news"),
        ("../../etc/passwd", "etc_passwd"),
        ("/abs/path", "abs_path"),
        ("..", "_"),
        ("", "_"),
        ("evil\x00name\r\n", "evil_name"),
        ("host.example.org:8080", "host.example.org_8080"),
    ],
)
def test_safe_segment(name: str, expected: str) -> None:
    assert safe_segment(name) == expected


@pytest.mark.parametrize("key", ["", "../x", "a/../b", "/abs", "a//b", "a/b\x00", "a/.hidden"])
def test_check_key_rejects_unsafe_keys(key: str) -> None:
    with pytest.raises(ValueError, match="unsafe archive key"):
        check_key(key)


def test_local_store_paths_stay_under_root(tmp_path: Path) -> None:
    store = FSArchiveStore(str(tmp_path / "archive"))
    path = store.local_path("news/run-1/warc/a.warc.gz")
    assert path == (tmp_path / "archive" / "news/run-1/warc/a.warc.gz").resolve()
    assert path.parent.is_dir()
    with pytest.raises(ValueError):
        store.local_path("news/../../outside")


def test_store_by_scheme(tmp_path: Path) -> None:
    assert isinstance(get_store(str(tmp_path)), FSArchiveStore)
    file_store = get_store(tmp_path.as_uri())
    assert isinstance(file_store, FSArchiveStore) and file_store.root == tmp_path.resolve()
    with pytest.raises(ValueError, match=r"ARCHIVE_URI 'gopher://x/y': scheme 'gopher'"):
        get_store("gopher://x/y")
