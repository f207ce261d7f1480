"""`scrapy corpus ls|get|export` on crawls of the demo site, stored locally and in moto's S3
server over HTTP (#8)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import duckdb
import pandas
import pytest
from moto.server import ThreadedMotoServer
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import DemoServer
from tests.conftest import FAST, PROJECT_ROOT, text_records
from tests.test_s3 import free_port

BUCKET = "research-corpus"
pytestmark = pytest.mark.slow


@dataclass
class Archives:
    local: Path  # runs run-1 and run-2 (the same site fetched again: refetch=all)
    s3_uri: str  # run run-s3
    env: dict[str, str]  # AWS settings for moto
    client: Any


def corpus(
    *args: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "corpus", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
    )


def crawl(base_url: str, env: dict[str, str], *settings: str, refetch: str = "none") -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "news",
            "-a",
            f"urls={base_url}/",
            "-a",
            f"refetch={refetch}",
            *FAST,
            *[arg for s in settings for arg in ("-s", s)],
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archives]:
    tmp = tmp_path_factory.mktemp("corpus")
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    local = tmp / "archive"
    try:
        with DemoServer() as site:
            crawl(site.base_url, env, f"ARCHIVE_URI={local}", "ARCHIVE_RUN_ID=run-1")
            # every article fetched again: the same URLs in two runs, for export's URL dedup
            crawl(
                site.base_url,
                env,
                f"ARCHIVE_URI={local}",
                "ARCHIVE_RUN_ID=run-2",
                "WACZ_ENABLED=True",
                refetch="all",
            )
            crawl(
                site.base_url,
                env,
                f"ARCHIVE_URI=s3://{BUCKET}/crawls",
                f"ARCHIVE_SPOOL={tmp / 'spool'}",
                "ARCHIVE_RUN_ID=run-s3",
            )
        yield Archives(local, f"s3://{BUCKET}/crawls", env, client)
    finally:
        moto.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(root: Path, run: str) -> dict[str, Any]:
    return json.loads((root / "news" / run / "manifest.json").read_text())


def selection(dest: Path) -> list[dict[str, Any]]:
    with gzip.open(dest / "selection.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def all_records(root: Path, *runs: str) -> list[dict[str, Any]]:
    """Every text record of the runs, read with the pipeline's own reader, run id added."""
    return [{**r, "run_id": run} for run in runs for r in text_records(root / "news" / run)]


def published(record: dict[str, Any]) -> date | None:
    return date.fromisoformat(record["date"][:10]) if record.get("date") else None


# --- ls -------------------------------------------------------------------------------------


def ls_table(stdout: str) -> tuple[list[dict[str, str]], str]:
    """The `ls` table as one dict a run (cells cut at the header's column starts), and the
    totals line."""
    header, *rows, totals = stdout.rstrip("\n").splitlines()
    names = header.split()
    names[names.index("STARTED") : names.index("STARTED") + 2] = ["STARTED (UTC)"]
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    cells = [{n: row[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}
             for row in rows]  # fmt: skip
    return cells, totals


def canonical_urls(records: list[dict[str, Any]]) -> set[str]:
    return {r.get("canonical_url") or r["url"] for r in records}


def test_ls_lists_runs_with_counts_sizes_and_dates(archives: Archives) -> None:
    listed = corpus("ls", str(archives.local), "--json")
    assert listed.returncode == 0, listed.stderr
    runs = {r["run_id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert set(runs) == {"run-1", "run-2"}
    for run_id, run in runs.items():
        records = all_records(archives.local, run_id)
        m = manifest(archives.local, run_id)
        assert run["state"] == "complete" and run["articles"] == len(records) >= 13
        # SIZE is the run's own files; the WACZ (its WARCs again) is apart
        wacz = [f["size"] for f in m["files"] if f["key"].endswith(".wacz")]
        assert run["bytes"] == sum(f["size"] for f in m["files"]) - sum(wacz) > 0
        assert run["wacz_bytes"] == sum(wacz) and bool(wacz) == (run_id == "run-2")
        dates = sorted(str(published(r)) for r in records if published(r))
        assert (run["published_from"], run["published_to"]) == (dates[0], dates[-1])
        assert sum(run["languages"].values()) == len(records)
        assert run["worker_id"] is None and run["crawl_id"] is None  # not a distributed crawl
    table = corpus("ls", str(archives.local))
    assert table.returncode == 0, table.stderr
    rows, totals = ls_table(table.stdout)
    assert "CRAWL" not in table.stdout.splitlines()[0]  # no distributed run: no empty columns
    first, second = all_records(archives.local, "run-1"), all_records(archives.local, "run-2")
    by_run = {row["RUN"]: row for row in rows}
    for run_id, records in (("run-1", first), ("run-2", second)):
        row = by_run[run_id]
        assert row["STATE"] == "complete" and row["ARTICLES"] == str(len(records))
        hosts = Counter(urlsplit(r["url"]).hostname for r in records)
        assert row["DOMAINS"] == ", ".join(f"{h} {n}" for h, n in hosts.most_common(3))
    assert by_run["run-1"]["WACZ"] == "-" and by_run["run-2"]["WACZ"].endswith("KB")
    # run-2 fetched run-1's pages again: nothing new, and the totals count each article once
    distinct = canonical_urls(first + second)
    assert by_run["run-1"]["NEW"] == str(len(canonical_urls(first)))
    assert by_run["run-2"]["NEW"] == str(len(distinct - canonical_urls(first))) == "0"
    assert totals.startswith(f"2 run(s): {len(distinct)} articles (one a canonical URL")
    assert f"{len(first) + len(second)} records in all" in totals and "WACZ" in totals

    s3 = corpus("ls", archives.s3_uri, env=archives.env)
    assert s3.returncode == 0, s3.stderr
    assert "run-s3" in s3.stdout and "complete" in s3.stdout and "1 run(s)" in s3.stdout


def test_ls_shows_a_run_without_manifest_as_incomplete(tmp_path: Path) -> None:
    (tmp_path / "news" / "killed-run" / "warc").mkdir(parents=True)
    out = corpus("ls", str(tmp_path), "--json").stdout
    assert json.loads(out)["state"] == "no manifest"
    rows, totals = ls_table(corpus("ls", str(tmp_path)).stdout)
    assert rows[0]["STATE"] == "no manifest" and rows[0]["NEW"] == "-"
    assert totals.startswith("1 run(s): 0 articles")


def test_ls_shows_domains_and_the_worker_and_crawl_of_distributed_runs(tmp_path: Path) -> None:
    """Two workers of one distributed crawl (manifest `distributed`: crawl and worker id),
    their articles on five sites, one page fetched by both."""
    archive = tmp_path / "archive"
    hosts = ["a.example"] * 4 + ["b.example"] * 3 + ["c.example"] * 2 + ["d.example", "e.example"]

    def record(host: str, number: int) -> dict[str, Any]:
        url = f"https://{host}/story-{number}"
        return {"id": f"{host}-{number}", "url": url, "canonical_url": url, "text": "words",
                "language": "en", "date": "2026-11-20T09:00:00+01:00"}  # fmt: skip

    first = [record(host, n) for n, host in enumerate(hosts)]
    second = [first[0], record("f.example", 99)]  # a.example's story-0 again, one new page
    for run, worker, records in (("run-a", "host-a", first), ("run-b", "host-b", second)):
        write_run(archive, run, records)
        path = archive / "news" / run / "manifest.json"
        written = json.loads(path.read_text())
        written["distributed"] = {"crawl_id": "nov-crawl", "worker_id": worker}
        written["content"] = {
            "domains": dict(Counter(urlsplit(r["url"]).hostname for r in records).most_common()),
            "languages": {"en": len(records)},
        }
        path.write_text(json.dumps(written))
    listed = corpus("ls", str(archive))
    assert listed.returncode == 0, listed.stderr
    rows, totals = ls_table(listed.stdout)
    assert [(r["RUN"], r["CRAWL"], r["WORKER"], r["NEW"]) for r in rows] == [
        ("run-a", "nov-crawl", "host-a", "11"), ("run-b", "nov-crawl", "host-b", "1"),
    ]  # fmt: skip
    assert rows[0]["DOMAINS"] == "a.example 4, b.example 3, c.example 2, +2 more"
    assert totals.startswith("2 run(s): 12 articles") and "13 records in all" in totals
    lines = corpus("ls", str(archive), "--json").stdout.splitlines()
    as_json = [json.loads(line) for line in lines]
    assert [(r["crawl_id"], r["worker_id"]) for r in as_json] == [
        ("nov-crawl", "host-a"), ("nov-crawl", "host-b"),
    ]  # fmt: skip


def test_corpus_runs_the_settings_check_of_scrapy_crawl(tmp_path: Path) -> None:
    """A mistyped setting stops the command with one line (exit 2); a duration in words is
    read like `scrapy crawl` reads it."""
    write_run(tmp_path / "archive", "run-x", [])
    typo = corpus("ls", str(tmp_path / "archive"), "-s", "ARCHIVE_URL=x")
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.splitlines() == [
        "scrapy corpus: error: unknown setting ARCHIVE_URL (did you mean ARCHIVE_URI?)"
    ]
    bad = corpus("ls", str(tmp_path / "archive"), "-s", "S3_RETRY_BACKOFF=soon")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith("scrapy corpus: error: setting S3_RETRY_BACKOFF='soon'")
    fine = corpus("ls", str(tmp_path / "archive"), "-s", "S3_RETRY_BACKOFF=2s")
    assert fine.returncode == 0 and "run-x" in fine.stdout, fine.stderr


# --- get ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["local", "s3"])
def test_get_with_filters_returns_exactly_the_matching_records(
    archives: Archives, tmp_path: Path, where: str
) -> None:
    source, runs = (str(archives.local), ("run-1", "run-2"))
    if where == "s3":
        source, runs = (archives.s3_uri, ("run-s3",))
    dest = tmp_path / "mirror"
    done = corpus("get", source, "--dest", str(dest), "--no-progress", env=archives.env)
    assert done.returncode == 0, done.stderr
    for run in runs:  # every text file the manifest lists is here, byte for byte
        for entry in manifest(dest, run)["files"]:
            if "/text/" in entry["key"]:
                assert sha256(dest / entry["key"]) == entry["sha256"]
    everything = all_records(dest, *runs)
    days = sorted({published(r) for r in everything if published(r)})
    middle = days[len(days) // 2]
    cases = {
        ("--language", "de"): lambda r: r["language"] == "de",
        ("--since", str(middle)): lambda r: published(r) is not None and published(r) >= middle,
        ("--until", str(middle), "--language", "en"): lambda r: (
            r["language"] == "en" and published(r) is not None and published(r) <= middle
        ),
        ("--domain", "127.0.0.1", "--run", runs[0]): lambda r: r["run_id"] == runs[0],
    }
    for number, (args, expected) in enumerate(cases.items()):
        target = tmp_path / f"sel-{number}"
        got = corpus("get", source, "--dest", str(target), *args, env=archives.env)
        assert got.returncode == 0, got.stderr
        wanted = sorted(r["id"] for r in everything if expected(r))
        assert sorted(r["id"] for r in selection(target)) == wanted, args
        assert 0 < len(wanted) < len(everything) or len(runs) == 1, args  # the filter selects
    none = corpus(
        "get", source, "--dest", str(tmp_path / "none"), "--domain", "example.org", env=archives.env
    )
    assert none.returncode == 0 and "0 run(s), 0 matching" in none.stdout, none.stdout
    assert not [
        p for p in (tmp_path / "none").rglob("*") if p.is_file() and p.name != "selection.jsonl.gz"
    ]


def test_get_resumes_an_interrupted_download(archives: Archives, tmp_path: Path) -> None:
    dest = tmp_path / "mirror"
    slow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scrapy",
            "corpus",
            "get",
            archives.s3_uri,
            "--dest",
            str(dest),
            "--warc",
            "--limit-rate",
            "40000",
            "--no-progress",
        ],
        cwd=PROJECT_ROOT,
        env=archives.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    parts: list[Path] = []
    while time.monotonic() < deadline and slow.poll() is None:
        parts = [p for p in dest.rglob("*.warc.gz.part") if p.stat().st_size > 20_000]
        if parts:
            break
        time.sleep(0.05)
    assert parts, "the rate-limited download never got into the WARC"
    slow.send_signal(signal.SIGKILL)  # the worst way to stop: no clean-up at all
    slow.wait(timeout=10)
    partial = parts[0].stat().st_size
    warc_key = parts[0].relative_to(dest).as_posix().removesuffix(".part")
    entry = next(f for f in manifest_s3(archives, "run-s3")["files"] if f["key"] == warc_key)
    assert 0 < partial < entry["size"]
    assert not (dest / warc_key).exists()  # never renamed before it is complete

    again = corpus("get", archives.s3_uri, "--dest", str(dest), "--warc", env=archives.env)
    assert again.returncode == 0, again.stderr
    assert "1 resumed" in again.stdout, again.stdout
    assert sha256(dest / warc_key) == entry["sha256"]
    assert not list(dest.rglob("*.part"))
    with (dest / warc_key).open("rb") as handle:  # and it is a whole, readable WARC
        assert sum(1 for _ in ArchiveIterator(handle)) == sum(entry["records"].values())
    third = corpus("get", archives.s3_uri, "--dest", str(dest), "--warc", env=archives.env)
    assert "0 file(s) downloaded" in third.stdout and "already present" in third.stdout


def manifest_s3(archives: Archives, run: str) -> dict[str, Any]:
    body = archives.client.get_object(Bucket=BUCKET, Key=f"crawls/news/{run}/manifest.json")
    return json.loads(body["Body"].read())


def test_get_refuses_a_file_whose_sha256_differs(archives: Archives, tmp_path: Path) -> None:
    bucket = "tampered"
    archives.client.create_bucket(Bucket=bucket)
    listing = archives.client.list_objects_v2(Bucket=BUCKET, Prefix="crawls/")["Contents"]
    for item in listing:  # a copy of the archive...
        archives.client.copy_object(
            Bucket=bucket, Key=item["Key"], CopySource={"Bucket": BUCKET, "Key": item["Key"]}
        )
    shard = next(i["Key"] for i in listing if "/text/" in i["Key"])
    body = archives.client.get_object(Bucket=BUCKET, Key=shard)["Body"].read()
    # ...whose text shard lost one byte and gained another: same size, other sha256
    archives.client.put_object(Bucket=bucket, Key=shard, Body=body[:-9] + b"X" + body[-8:])
    dest = tmp_path / "mirror"
    got = corpus("get", f"s3://{bucket}/crawls", "--dest", str(dest), env=archives.env)
    key = shard.removeprefix("crawls/")
    assert got.returncode == 1
    assert f"REFUSED {key}: sha256" in got.stderr and "differs from the manifest" in got.stderr
    assert not (dest / key).exists() and not list(dest.rglob("*.part"))
    assert not (dest / "news" / "run-s3" / "manifest.json").exists()  # the run is not mirrored


def test_get_says_what_is_wrong_with_credentials_buckets_and_uris(
    archives: Archives, tmp_path: Path
) -> None:
    no_keys = {k: v for k, v in archives.env.items() if not k.startswith("AWS_")}
    no_keys |= {
        "AWS_ENDPOINT_URL": archives.env["AWS_ENDPOINT_URL"],
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    cases = [
        (no_keys, archives.s3_uri, "no AWS credentials found"),
        (archives.env, "s3://no-such-bucket/x", "s3://no-such-bucket: no such bucket"),
        (archives.env, str(tmp_path / "missing"), "no such archive folder"),
        (archives.env, "ftp://example.org/a", "unsupported archive scheme 'ftp'"),
    ]
    for env, uri, message in cases:
        got = corpus("get", uri, "--dest", str(tmp_path / "d"), env=env)
        assert got.returncode == 2 and message in got.stderr, (uri, got.stderr[-2000:])
        assert "Traceback" not in got.stderr


# --- export -----------------------------------------------------------------------------------


def parquet_rows(out: Path) -> list[dict[str, Any]]:
    query = f"SELECT * FROM read_parquet('{out}/data/**/*.parquet')"
    return duckdb.sql(query).df().to_dict("records")


def test_export_parquet_loads_in_duckdb_and_pandas(archives: Archives, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    got = corpus("export", str(archives.local), "--out", str(out))
    assert got.returncode == 0, got.stderr
    records = all_records(archives.local, "run-1", "run-2")
    latest = {r["canonical_url"]: r for r in sorted(records, key=lambda r: r["fetched_at"])}
    assert len(records) > len(latest) >= 13  # run-2 fetched every article again
    # one row per article: its latest text, from the first fetch that had it (the demo site
    # did not change, so run-1's); and the demo site has no syndicated copies
    expected = [
        min((r for r in records if r["canonical_url"] == url and r["text"] == last["text"]),
            key=lambda r: r["fetched_at"])
        for url, last in latest.items()
    ]  # fmt: skip
    assert {r["run_id"] for r in expected} == {"run-1"}

    rows = parquet_rows(out)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in expected)
    assert len({r["cluster_id"] for r in rows}) == len(rows)
    assert all(r["duplicate"] is None for r in rows)
    # the page type travels with every row: the demo's stored pages are all plain articles
    assert {(r["page_type"], r["page_type_reason"]) for r in rows} == {("article", None)}
    assert {(r["page_type"], r["page_type_reason"]) for r in records} == {("article", None)}
    assert len(pandas.read_parquet(out / "data")) == len(rows)
    days = {str(published(r)) for r in latest.values() if published(r)}
    folders = {p.name for p in (out / "data").iterdir() if p.is_dir()}
    assert folders - {"undated"} == days  # one folder a publication day
    by_day = duckdb.sql(
        f"SELECT pub_date, count(*) FROM read_parquet('{out}/data/**/*.parquet') GROUP BY pub_date"
    ).fetchall()
    assert {str(day) for day, _ in by_day if day} == days
    assert sum(n for _, n in by_day) == len(rows)
    for row in rows:  # each row points at the archived response it was extracted from
        with (archives.local / row["warc_key"]).open("rb") as handle:
            handle.seek(row["warc_offset"])
            record = next(iter(ArchiveIterator(handle)))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
        assert record.rec_headers.get_header("WARC-Record-ID") == row["warc_record_id"]
    card = (out / "README.md").read_text()
    assert f"| **rows in this dataset** | **{len(rows)}** |" in card
    assert f"| earlier fetches of a re-fetched URL (dropped) | {len(records) - len(rows)} |" in card
    assert "## Licence" in card and "read_parquet" in card


def test_export_from_s3_as_json_lines(archives: Archives, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    got = corpus(
        "export",
        archives.s3_uri,
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--language",
        "en",
        "--cache",
        str(tmp_path / "cache"),
        env=archives.env,
    )
    assert got.returncode == 0, got.stderr
    with gzip.open(out / "data" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    cached = all_records(tmp_path / "cache" / BUCKET / "crawls", "run-s3")
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in cached if r["language"] == "en")
    assert rows and all(r["run_id"] == "run-s3" for r in rows)
    assert duckdb.sql(
        f"SELECT count(*) FROM read_json_auto('{out}/data/articles.jsonl.gz')"
    ).fetchone()[0] == len(rows)


def write_run(root: Path, run: str, records: list[dict[str, Any]]) -> None:
    """A run as the crawler writes it: a text shard of gzip members and a manifest."""
    folder = root / "news" / run
    (folder / "text").mkdir(parents=True)
    shard = folder / "text" / "news-1-00001.jsonl.gz"
    with shard.open("wb") as handle:
        for record in records:
            line = json.dumps(record, ensure_ascii=False) + "\n"
            handle.write(gzip.compress(line.encode(), mtime=0))
    files = [
        {
            "key": f"news/{run}/text/{shard.name}",
            "size": shard.stat().st_size,
            "sha256": sha256(shard),
            "records": len(records),
        }
    ]
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "run_id": run,
                "complete": True,
                "files": files,
                "stats": {"text_records": len(records)},
            }
        )
    )


def test_export_drops_syndicated_copies_and_keeps_them_on_request(
    archives: Archives, tmp_path: Path
) -> None:
    demo = sorted(all_records(archives.local, "run-1"), key=lambda r: -len(r["text"]))
    wire, other, third = demo[0], demo[1], demo[2]
    paragraphs = wire["text"].split("\n")

    def copy(suffix: str, site: str, day: str, text: str) -> dict[str, Any]:
        return {
            **wire,
            "id": f"{wire['id'][:20]}{suffix}",
            "text": text,
            "date": day,
            "url": f"https://{site}/story",
            "canonical_url": f"https://{site}/story",
        }

    original = copy("orig", "wire.example", "2026-11-01T08:00:00+00:00", wire["text"])
    reworded = copy(
        "near",
        "daily.example",
        "2026-11-01T10:00:00+00:00",
        "\n".join(
            [
                "This story was originally published by the Wire Service.",
                *paragraphs[:-1],
                "Read more: our coverage of the region.",
            ]
        ),
    )
    retyped = copy(
        "exact",
        "herald.example",
        "2026-11-02T09:00:00+00:00",
        wire["text"].replace("'", "\u2019").upper().replace(" ", "  "),
    )
    # shares the wire story's opening paragraph only: a different article
    mixed = {
        **third,
        "id": "mixed",
        "text": paragraphs[0] + "\n" + third["text"],
        "url": "https://mixed.example/a",
        "canonical_url": "https://mixed.example/a",
    }
    write_run(tmp_path / "archive", "synd", [reworded, retyped, original, other, mixed])

    out = tmp_path / "dropped"
    got = corpus("export", str(tmp_path / "archive"), "--out", str(out))
    assert got.returncode == 0, got.stderr
    assert sorted(r["id"] for r in parquet_rows(out)) == sorted(
        [original["id"], other["id"], "mixed"]
    )
    assert "1 exact and 1 near duplicates dropped" in got.stdout

    kept = tmp_path / "kept"
    got = corpus("export", str(tmp_path / "archive"), "--out", str(kept), "--keep-duplicates")
    assert got.returncode == 0, got.stderr
    rows = {r["id"]: r for r in parquet_rows(kept)}
    assert len(rows) == 5
    cluster = rows[original["id"]]["cluster_id"]
    assert rows[reworded["id"]]["cluster_id"] == rows[retyped["id"]]["cluster_id"] == cluster
    assert (rows[reworded["id"]]["duplicate"], rows[retyped["id"]]["duplicate"]) == (
        "near",
        "exact",
    )
    assert rows[reworded["id"]]["duplicate_of"] == original["id"]  # the earliest copy is kept
    assert rows[original["id"]]["duplicate"] is None
    assert len({rows[i]["cluster_id"] for i in (original["id"], other["id"], "mixed")}) == 3
    refused = corpus("export", str(tmp_path / "archive"), "--out", str(kept))
    assert refused.returncode == 2 and "not empty" in refused.stderr


# --- report -----------------------------------------------------------------------------------


def test_report_command_on_a_local_and_an_s3_run(archives: Archives, tmp_path: Path) -> None:
    local = corpus("report", "run-1", str(archives.local), "--out", str(tmp_path / "local.html"))
    assert local.returncode == 0, local.stderr
    s3 = corpus("report", "run-s3", archives.s3_uri, "--out", str(tmp_path / "s3.html"),
                "--cache", str(tmp_path / "cache"), env=archives.env)  # fmt: skip
    assert s3.returncode == 0, s3.stderr
    for name, run, root in (("local", "run-1", archives.local),
                            ("s3", "run-s3", tmp_path / "cache" / BUCKET / "crawls")):  # fmt: skip
        html = (tmp_path / f"{name}.html").read_text()
        assert run in html and html.count('<figure id="chart-') >= 6
        assert f">{len(text_records(root / 'news' / run))}<" in html  # the article count
        assert "no index" not in html.lower()  # statuses came from the run's CDXJ
    missing = corpus("report", "no-such-run", str(archives.local))
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr


# --- wacz ---------------------------------------------------------------------------------------


def test_wacz_takes_the_archive_argument_like_report(archives: Archives, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(archives.local / "news" / "run-1", archive / "news" / "run-1")
    got = corpus("wacz", "run-1", str(archive))
    assert got.returncode == 0, got.stderr
    wacz = archive / "news" / "run-1" / "run-1.wacz"
    assert Path(got.stdout.strip()) == wacz
    with zipfile.ZipFile(wacz) as package:
        assert any(name.endswith(".warc.gz") for name in package.namelist())
    # S3: the store cannot build a WACZ in place; the error says how to get a local copy
    s3 = corpus("wacz", "run-s3", archives.s3_uri, env=archives.env)
    assert s3.returncode == 2
    assert f"scrapy corpus get {archives.s3_uri} --run run-s3 --warc" in s3.stderr
