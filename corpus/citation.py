"""Who and what a dataset's citation names: its title and authors (`corpus export --title
--author`), and the CITATION.cff block of the dataset card.

The defaults say only what is known. The title comes from the data (what and when), never from
where the export read it: a local mirror's path means nothing to a reader. Without --author
the authors are CFF's `anonymous` entity (CFF 1.2.0 requires at least one author, and names
only what is known), and the card asks for `--author`: a placeholder such as "FILL IN" is
copied into papers as if it were a name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

UNKNOWN_AUTHOR = "anonymous"  # CFF's own example for a work without a known author


@dataclass
class Credits:
    title: str | None = None  # None: default_title()
    authors: list[str] = field(default_factory=list)  # as given to --author

    def title_for(self, dates: list[str]) -> str:
        return self.title or default_title(dates)


def default_title(dates: list[str]) -> str:
    """`News articles crawled by newsarchiver, published 2026-11-01 to 2026-11-30`."""
    base = "News articles crawled by newsarchiver"
    if not dates:
        return base
    return f"{base}, published {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")


def cff_author(name: str) -> dict[str, str]:
    """`Family, Given` is a person (CFF family-names / given-names); anything else is taken as
    written, a CFF entity `name` (a team, an institution, or a person's whole name): splitting
    "Given Family" by guesswork gets many names wrong."""
    family, comma, given = (part.strip() for part in name.partition(","))
    if comma and family and given:
        return {"family-names": family, "given-names": given}
    return {"name": name.strip()}


def quoted(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string syntax is valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def yaml_items(items: list[dict[str, Any]], indent: str = "  ") -> str:
    lines = []
    for item in items:
        for number, (key, value) in enumerate(item.items()):
            lead = f"{indent}- " if number == 0 else f"{indent}  "
            lines.append(f"{lead}{key}: {quoted(str(value))}")
    return "\n".join(lines)


def authors_note(credits: Credits) -> str:
    """The card's sentence about the authors."""
    if credits.authors:
        return "Authors: " + "; ".join(credits.authors) + "."
    return (
        "No author was given: the citation below names the authors as `anonymous`.\n"
        'Export again with `--author` (repeatable; `"Family, Given"` for a person) to name them.'
    )


def citation(
    credits: Credits, dates: list[str], released: str, fingerprint: str, summary: str
) -> str:
    """CITATION.cff (1.2.0) for the dataset; `fingerprint`: sha256 over its files' checksums,
    `summary`: what the identifier is, for the reader."""
    authors = [cff_author(a) for a in credits.authors if a.strip()] or [{"name": UNKNOWN_AUTHOR}]
    software = version("newsarchiver")
    return f"""cff-version: 1.2.0
message: "If you use this dataset, please cite it as below, and cite articles by record_id."
type: dataset
title: {quoted(credits.title_for(dates))}
date-released: {released}
version: "sha256:{fingerprint[:16]}"
identifiers:
  - type: other
    value: "sha256:{fingerprint}"
    description: {quoted(summary)}
authors:
{yaml_items(authors)}
keywords: [news, web archive, WARC, text corpus]
references:
  - type: software
    title: newsarchiver
    version: "{software}"
    authors:
      - name: "newsarchiver contributors"
"""
