"""The README is a quickstart (#24): under 200 lines, linking the docs/ pages, each of which
opens with what it covers; every relative link in them leads to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_quickstart_under_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200
    assert any(line.startswith("make crawl") for line in lines)
    assert any(line.startswith("make test") for line in lines)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {Path(target).name for target in LINK.findall(README.read_text(encoding="utf-8"))}
    assert DOCS, "docs/ has pages"
    assert sorted(page.name for page in DOCS if page.name not in linked) == []


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_each_docs_page_opens_with_what_it_covers(page: Path) -> None:
    title, blank, first, *_ = page.read_text(encoding="utf-8").splitlines()
    assert title.startswith("# ") and not blank
    assert first.startswith("Covers ")


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.name)
def test_relative_links_lead_to_files_that_exist(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []
