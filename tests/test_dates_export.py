"""One date model (#16): a crawl of pages published at 00:30 in UTC+2 and at 21:00 in UTC-5
(local day and UTC day differ), exported as Parquet and JSON Lines and read back by pandas and
DuckDB, each with its types checked; `--since/--until` select by the same local day."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas
import pytest

from tests.test_corpus import corpus
from tests.test_hostile import PARAGRAPH, HostileSite, Page, crawl, home, html

# path -> the datePublished the page states
PUBLISHED = {
    "/news/east/": "2025-11-24T00:30:00+02:00",  # the 24th at home, the 23rd in UTC
    "/news/west/": "2025-11-23T21:00:00-05:00",  # the 23rd at home, the 24th in UTC
    "/news/utc/": "2025-11-22T10:00:00Z",
}


def dated_article(title: str, published: str) -> str:
    ld = json.dumps({"@type": "NewsArticle", "headline": title, "datePublished": published})
    paragraphs = "".join(f"<p>{PARAGRAPH.format(topic=f'{title} {i}')}</p>" for i in range(6))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='article:published_time' content='{published}'>"
        f"<script type='application/ld+json'>{ld}</script></head><body>"
        f"<article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


@dataclass
class Dated:
    archive: Path
    tmp: Path


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dated]:
    tmp = tmp_path_factory.mktemp("dates")
    with HostileSite() as site:
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        site.pages["/news/good-story/"] = html(
            dated_article("Harbour figures", PUBLISHED["/news/utc/"])
        )
        for path, published in PUBLISHED.items():
            site.pages[path] = html(dated_article(f"Story {path.strip('/')}", published))
        site.pages["/"] = home(*PUBLISHED)
        done = crawl(site, tmp)
    assert {p for p in PUBLISHED} <= done.stored()
    yield Dated(tmp / "archive", tmp)


def export(dated: Dated, name: str, *args: str) -> Path:
    out = dated.tmp / name
    got = corpus("export", str(dated.archive), "--out", str(out), *args)
    assert got.returncode == 0, got.stderr
    return out


@pytest.fixture(scope="module")
def parquet(dated: Dated) -> Path:
    return export(dated, "parquet")


@pytest.fixture(scope="module")
def json_lines(dated: Dated) -> Path:
    return export(dated, "jsonl", "--format", "jsonl") / "data" / "articles.jsonl.gz"


EXPECTED = {  # path -> (date as exported, pub_date, the UTC instant)
    path: (
        dt.datetime.fromisoformat(value).isoformat(),
        dt.date.fromisoformat(value[:10]),
        dt.datetime.fromisoformat(value).astimezone(dt.UTC),
    )
    for path, value in PUBLISHED.items()
}


def check(frame: pandas.DataFrame) -> None:
    """The rows of the three dated stories hold the expected values (types checked before)."""
    rows = {
        "/" + url.split("/", 3)[3]: row
        for url, row in zip(frame["url"], frame.itertuples(), strict=True)
    }
    for path, (date, day, instant) in EXPECTED.items():
        row = rows[path]
        assert row.date == date  # the source's offset kept
        assert pandas.Timestamp(row.pub_date).date() == day  # the local day, not the UTC day
        assert pandas.Timestamp(row.date_utc) == pandas.Timestamp(instant)


def test_parquet_in_pandas(parquet: Path) -> None:
    frame = pandas.read_parquet(parquet / "data")
    assert str(frame["date_utc"].dtype).startswith("datetime64") and "UTC" in str(
        frame["date_utc"].dtype
    )
    assert all(isinstance(day, dt.date) for day in frame["pub_date"])  # date32: datetime.date
    arrow = pandas.read_parquet(parquet / "data", dtype_backend="pyarrow")
    assert str(arrow["pub_date"].dtype) == "date32[day][pyarrow]"
    assert str(pandas.to_datetime(frame["date"], utc=True).dtype) == "datetime64[ns, UTC]"
    check(frame)


def test_parquet_in_duckdb(parquet: Path) -> None:
    out = parquet
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{out}/data/**/*.parquet')")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert types["pub_date"] == "DATE"
    assert types["date_utc"] == "TIMESTAMP WITH TIME ZONE"
    assert types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    # the local day is a plain column of every file, and each folder is named by it
    for folder in (out / "data").iterdir():
        days = duckdb.sql(f"SELECT DISTINCT pub_date FROM read_parquet('{folder}/*.parquet')")
        assert [str(d) for (d,) in days.fetchall()] == [folder.name]
    check(relation.df())


def test_json_lines_in_pandas(json_lines: Path) -> None:
    path = json_lines
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = [json.loads(line) for line in handle]
    assert {r["date"] for r in raw} >= {date for date, _, _ in EXPECTED.values()}
    frame = pandas.read_json(
        path, lines=True, convert_dates=["pub_date", "date_utc", "fetched_at"],
        keep_default_dates=False,  # `date` stays the source's text, offsets and all
    )  # fmt: skip
    assert str(frame["pub_date"].dtype) == "datetime64[ns]"
    assert str(frame["date_utc"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["fetched_at"].dtype) == "datetime64[ns, UTC]"
    assert str(pandas.to_datetime(frame["date"], utc=True).dtype) == "datetime64[ns, UTC]"
    check(frame)


def test_json_lines_in_duckdb(json_lines: Path) -> None:
    path = json_lines
    relation = duckdb.sql(f"SELECT * FROM read_json('{path}')")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert types["pub_date"] == "DATE"
    # ISO 8601 with offsets: DuckDB types them itself (as the UTC instant)
    assert types["date"] in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
    assert types["date_utc"] in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
    assert types["fetched_at"] in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
    rows = duckdb.sql(f"SELECT url, pub_date, date FROM read_json('{path}')").fetchall()
    found = {"/" + url.split("/", 3)[3]: (day, moment) for url, day, moment in rows}
    for path_, (_, day, instant) in EXPECTED.items():
        moment = found[path_][1]
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        assert found[path_][0] == day and moment == instant


def test_since_and_until_select_the_local_day(dated: Dated) -> None:
    out = export(dated, "day", "--since", "2025-11-24", "--until", "2025-11-24")
    urls = duckdb.sql(f"SELECT url FROM read_parquet('{out}/data/**/*.parquet')").fetchall()
    assert ["/" + url.split("/", 3)[3] for (url,) in urls] == ["/news/east/"]
    card = (out / "README.md").read_text()
    assert "2025-11-24 to 2025-11-24" in card
