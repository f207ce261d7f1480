"""Which runs, files and records a researcher asked for (`--run --since --until --domain
--language`), shared by `corpus get` and `corpus export`.

Run-level pruning uses each manifest's `content` summary, so runs that cannot match are never
downloaded; the exact decision is then made record by record.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corpus.catalog import RunEntry
from corpus.dates import local_day
from corpus.fetch import Wanted
from corpus.source import CorpusError


def parse_day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise CorpusError(f"{option} {value!r}: expected a date like 2026-11-01") from None


# What text records carry: the primary language subtag, two letters (ISO 639-1), three for the
# languages that have no two-letter code, "unknown" when neither the page nor the text said.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}|unknown")


def parse_language(value: str) -> str:
    code = value.strip().lower()
    if not LANGUAGE_CODE.fullmatch(code):
        raise CorpusError(
            f"--language {value!r}: expected an ISO 639-1 language code such as de or en "
            "(as the text records hold it; unknown for articles without one)"
        )
    return code


def check_days(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise CorpusError(
            f"--since {since} is after --until {until}: no day is in between "
            "(both days are included; the earlier one goes with --since)"
        )


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


@dataclass
class RecordFilter:
    since: date | None = None  # publication's local day, inclusive
    until: date | None = None  # publication's local day, inclusive
    domains: set[str] = field(default_factory=set)  # a domain matches its subdomains too
    languages: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    # (run id, fetch id) of the records a mirror's selection.jsonl.gz lists (None: no selection)
    selected: set[tuple[str, str]] | None = None

    @property
    def by_record(self) -> bool:
        """True when records, not only whole runs, are filtered."""
        chosen = self.selected is not None
        return bool(self.since or self.until or self.domains or self.languages or chosen)

    def domain_matches(self, host: str) -> bool:
        host = host.lower().removeprefix("www.")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def run_may_match(self, run: RunEntry) -> bool:
        if self.runs and run.run_id not in self.runs:
            return False
        if self.selected is not None and run.run_id not in {r for r, _ in self.selected}:
            return False  # a run the selection has no record of
        content = run.content
        if not content:  # an old or missing manifest: cannot tell, so look inside
            return True
        if self.languages and not self.languages & set(content.get("languages", {})):
            return False
        if self.domains and not any(self.domain_matches(h) for h in content.get("domains", {})):
            return False
        low, high = content.get("date_min"), content.get("date_max")
        if (self.since or self.until) and not low:
            return False  # no dated article at all
        if self.since and high and date.fromisoformat(high) < self.since:
            return False
        return not (self.until and low and date.fromisoformat(low) > self.until)

    def matches(self, record: dict[str, Any]) -> bool:
        """Undated articles never match a date filter."""
        chosen = (record.get("run_id"), record.get("id"))
        if self.selected is not None and chosen not in self.selected:
            return False
        if self.languages and (record.get("language") or "unknown") not in self.languages:
            return False
        if self.domains and not self.domain_matches(domain_of(record.get("url", ""))):
            return False
        if self.since or self.until:
            day = local_day(record.get("date"))  # the publication's day, in its own offset
            if day is None:
                return False
            if (self.since and day < self.since) or (self.until and day > self.until):
                return False
        return True


def record_id(record: dict[str, Any]) -> str:
    """The id to cite a record by: the same article text at the same canonical URL has the same
    id in every run that fetched it; a changed text (or a new extraction of it) gets a new one."""
    url = record.get("canonical_url") or record.get("url") or ""
    text = record.get("text") or ""
    return hashlib.sha256(f"{url}\n{text}".encode()).hexdigest()[:32]


def text_files(run: RunEntry) -> list[Wanted]:
    return [
        Wanted(f["key"], f.get("size"), f.get("sha256"))
        for f in run.files
        if f["key"].startswith(f"{run.prefix}/{run.text_folder}/")  # the current text version
    ]


def warc_files(
    run: RunEntry, names: set[str] | None = None, indexes: bool = True, wacz: bool = False
) -> list[Wanted]:
    """The run's WARCs (all, or only those in `names`), its CDXJ indexes, and its WACZ package
    (which holds the WARCs again)."""
    found = []
    for f in run.files:
        key = f["key"]
        folder = key[len(run.prefix) + 1 :].split("/")[0]
        wanted_warc = folder == "warc" and (names is None or key.rsplit("/", 1)[-1] in names)
        if wanted_warc or (indexes and folder == "indexes") or (wacz and key.endswith(".wacz")):
            found.append(Wanted(key, f.get("size"), f.get("sha256")))
    return found


def run_records(root: Path, run: RunEntry) -> Iterator[dict[str, Any]]:
    """The records of a run's text shards under a local `root`, with run and WARC keys added.
    Shards listed by the manifest are read in its order; without a manifest, what is there."""
    keys = [w.key for w in text_files(run)]
    if run.manifest is None:
        keys = sorted(
            p.relative_to(root).as_posix() for p in (root / run.prefix / "text").glob("*.jsonl.gz")
        )
    for key in keys:
        path = root / key
        if not path.is_file():
            raise CorpusError(f"{path}: text shard missing (run `scrapy corpus get` first)")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise CorpusError(f"{path}:{number}: not a JSON record ({exc})") from None
                record["record_id"] = record_id(record)
                record["spider"] = run.spider
                record["run_id"] = run.run_id
                record["shard_key"] = key
                if record.get("warc_filename"):  # a revisit's payload may be in an earlier run
                    holder = f"{run.spider}/{record.get('warc_run_id') or run.run_id}"
                    record["warc_key"] = f"{holder}/warc/{record['warc_filename']}"
                yield record
