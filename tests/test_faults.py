"""A fault-injection suite (#21): crawls killed, interrupted and starved of disk at random
moments and at every write site, on local disk and on S3; after each fault the next crawl (and
`scrapy corpus push` for S3) must bring the archive back to one outcome: every article whose
page was fetched is in exactly one run's text that `corpus ls` / `export` read, or is fetched
again; none is stored twice; every WARC passes `warcio check`; no run that stopped early reads
as complete.

The faults of a chain hit crawl after crawl on one archive (each crawl the next victim, of a
news site that publishes new articles between crawls), then one clean crawl; the invariants are
checked once per chain, and each crawl's exit status and manifest at once.

Seeded (by default with the day's date, YYYYMMDD): every failure names its FAULT_SEED, and
`FAULT_SEED=<n> pytest tests/test_faults.py` replays the same plan (faults, where they hit,
articles). Faults timed from outside (a signal after N article requests) replay the same plan,
not the same instant. NEWS_SOAK=1 also runs the soak (three more seeds, 2.5x longer chains,
marked `soak`). A table of faults and articles is printed by the last test and written to
<basetemp>/fault-table.txt; each chain writes <its tmp_path>/fault-report.txt (steps, problems,
notes) and keeps each crawl's log in <its tmp_path>/logs/.

Real `scrapy crawl news` / `scrapy corpus` subprocesses, a news site and moto's standalone S3
server on 127.0.0.1; tmpfs mounts where permitted (root), skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.faults import (
    Chain,
    Fault,
    GrowingSite,
    S3Gate,
    Tally,
    corpus_export,
    corpus_runs,
    scrapy_cli,
    seeded,
    tally,
    warcio_check,
)
from tests.test_disk_full import mount_small_tmpfs
from tests.test_s3 import BUCKET, Moto

# The day's date unless given: every xdist worker collects the same tests, and the suite
# tries a new plan each day; a failure names its seed, and FAULT_SEED=<it> replays it.
SEED = int(os.environ.get("FAULT_SEED") or datetime.now(UTC).strftime("%Y%m%d"))
SOAK = os.environ.get("NEWS_SOAK") == "1"
KILLED = -signal.SIGKILL
TABLE = "fault-rows.jsonl"

Factory = Callable[[random.Random, int], Fault]


# --- the faults -------------------------------------------------------------------------------


def new(rng: random.Random) -> int:
    return rng.randint(4, 10)


def run_path(i: int) -> str:
    return rf"/news/step-{i:02d}/"


def kill_random(rng: random.Random, i: int) -> Fault:
    n = new(rng)
    if rng.random() < 0.3:  # anywhere: start-up, repair of the last victim, closing
        return Fault("SIGKILL at a random moment", signal="SIGKILL", new_articles=n,
                     after_seconds=rng.uniform(0.3, 1.8), expect=(KILLED,))  # fmt: skip
    return Fault("SIGKILL at a random moment", signal="SIGKILL", new_articles=n,
                 after_articles=rng.randint(1, n), expect=(KILLED,))  # fmt: skip


def kill_write(kind: str, path: str, most: int, mode: str = "torn") -> Factory:
    """SIGKILL in the Nth write to `path`, N up to `most` per 8 new articles (`most` < 0: N is
    -most, e.g. -2 for the manifest: its first write is the room reserved at the start)."""

    def make(rng: random.Random, i: int) -> Fault:
        n = new(rng)
        at = -most if most < 0 else rng.randint(1, max(1, most * n // 8))
        rule = {"op": "write", "path": path.format(run=run_path(i)), "action": "kill",
                "mode": mode, "at": at}  # fmt: skip
        return Fault(kind, [rule], new_articles=n, expect=(KILLED,))

    return make


def kill_seen_mark(rng: random.Random, i: int) -> Fault:
    n = new(rng)
    rule = {"op": "sql", "path": r"news-seen\.sqlite$", "sql": r"^\s*INSERT INTO articles",
            "action": "kill", "mode": "before", "at": rng.randint(1, n)}  # fmt: skip
    return Fault("SIGKILL between text record and seen mark", [rule], new_articles=n,
                 expect=(KILLED,))  # fmt: skip


def kill_rename(kind: str, path: str, most: int) -> Factory:
    def make(rng: random.Random, i: int) -> Fault:
        rule = {"op": "rename", "path": path.format(run=run_path(i), prev=run_path(i - 1)),
                "action": "kill", "mode": rng.choice(["before", "after"]),
                "at": rng.randint(1, most)}  # fmt: skip
        return Fault(kind, [rule], new_articles=new(rng), expect=(KILLED,))

    return make


def interrupt(name: str) -> Factory:
    def make(rng: random.Random, i: int) -> Fault:
        n = new(rng)
        kind = {"SIGTERMx2": "SIGTERM twice (forced stop)"}.get(name, f"{name} mid-run")
        return Fault(kind, signal=name, new_articles=n, after_articles=rng.randint(1, n - 1),
                     expect=(6,))  # fmt: skip

    return make


def enospc(kind: str, path: str, most: int, mode: str = "torn") -> Factory:
    def make(rng: random.Random, i: int) -> Fault:
        n = new(rng)
        rule = {"op": "write", "path": path.format(run=run_path(i), prev=run_path(i - 1)),
                "action": "enospc", "mode": mode,
                "at": rng.randint(1, max(1, most * n // 8))}  # fmt: skip
        return Fault(kind, [rule], new_articles=n, expect=(4,))

    return make


def sqlite_full(kind: str, path: str) -> Factory:
    def make(rng: random.Random, i: int) -> Fault:
        rule = {"op": "sqlite_pages", "path": path, "action": "enospc", "mode": "-",
                "pages": rng.choice([0, 0, 1])}  # fmt: skip
        return Fault(kind, [rule], new_articles=rng.randint(8, 14), expect=(4,))

    return make


WARC_OPEN = r"{run}warc/.*\.warc\.gz\.open$"
TEXT_OPEN = r"{run}text/.*\.jsonl\.gz\.open$"
MANIFEST_TMP = r"{run}manifest\.json\.tmp$"

# Stage 1: kills and signals on local disk. A tuple is a sequence: a kill, then a crawl killed
# while it repairs that victim.
LOCAL_KILLS: list[tuple[Factory, ...]] = [
    (kill_random,),
    (kill_random,),
    (kill_random,),
    (kill_write("SIGKILL in a WARC record write (torn)", WARC_OPEN, 24),),
    (kill_write("SIGKILL in a text record write (torn)", TEXT_OPEN, 6),),
    (kill_seen_mark,),
    (kill_write("SIGKILL in the manifest write (torn)", MANIFEST_TMP, -2),),
    (kill_rename("SIGKILL at the manifest rename", MANIFEST_TMP, 1),),
    (kill_rename("SIGKILL at an archive file's rename", r"{run}(warc|text)/.*\.open$", 2),),
    (
        kill_random,
        kill_rename("SIGKILL while repairing the last victim", r"{prev}(warc|text)/.*\.open$", 2),
    ),
    (interrupt("SIGTERM"),),
    (interrupt("SIGINT"),),
    (interrupt("SIGTERMx2"),),
]

# Stage 2: ENOSPC at each write site (the sitecustomize stand-in; SQLite through its own
# max_page_count, i.e. SQLITE_FULL from C).


def _manifest_final(rng: random.Random, i: int) -> Fault:
    rule = {
        "op": "write",
        "path": MANIFEST_TMP.format(run=run_path(i)),
        "action": "enospc",
        "mode": "before",
        "at": 2,
    }  # 1: the room reserved at the start; 2: the manifest
    return Fault("ENOSPC: manifest (final write)", [rule], new_articles=new(rng), expect=(4,))


LOCAL_ENOSPC = [
    (enospc("ENOSPC: WARC", WARC_OPEN, 24),),
    (enospc("ENOSPC: text shard", TEXT_OPEN, 6),),
    (enospc("ENOSPC: manifest (room reserved at start)", MANIFEST_TMP, 0),),
    (_manifest_final,),
    (enospc("ENOSPC: frontier (disk queue)", r"/\.state/news-frontier/", 8),),
    (enospc("ENOSPC: CDXJ index", r"{run}indexes/", 0),),
    (sqlite_full("SQLITE_FULL: seen-store", r"news-seen\.sqlite$"),),
    (sqlite_full("SQLITE_FULL: payload index", r"news-payloads\.sqlite$"),),
    (kill_random, enospc("ENOSPC while repairing the last victim", r"{prev}", 0)),
    (kill_random, sqlite_full("SQLITE_FULL: seen-store while repairing", r"news-seen\.sqlite$")),
]


def plan(menu: list[tuple[Factory, ...]], count: int, rng: random.Random) -> list[Fault]:
    """`count` faults: every entry of the menu once (in a seeded order), then seeded picks."""
    entries = list(menu)
    rng.shuffle(entries)
    while sum(len(e) for e in entries) < count:
        entries.append(rng.choice(menu))
    faults: list[Fault] = []
    for entry in entries:
        for factory in entry:
            faults.append(factory(rng, len(faults)))
    return faults


# --- checking a chain -------------------------------------------------------------------------


def response_ids(warcs: list[Path]) -> dict[str, set[str]]:
    """WARC-Record-IDs of the response and revisit records, by run id."""
    found: dict[str, set[str]] = {}
    for warc in warcs:
        run_id = warc.parent.parent.name
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type in ("response", "revisit"):
                    found.setdefault(run_id, set()).add(record.rec_headers["WARC-Record-ID"])
    return found


def check_chain(chain: Chain, uri: str, warcs: list[Path], out: Path) -> dict[str, Tally]:
    """The invariants once the chain is over; a problem is noted, not raised, so the table is
    still written; the test fails on any."""
    problems = chain.problems
    runs = corpus_runs(uri)
    for result in chain.results:
        run = runs.get(result.run_id)
        label = f"run {result.run_id} ({result.fault.kind}, exit {result.status})"
        if run is not None and run["state"] == "complete" and result.status != 0:
            # killed after it wrote its own manifest (e.g. while uploading it): it did not stop
            # early; a manifest that repair wrote, or one of an interrupted run, must not say so
            manifest = chain.manifest(result.run_id) or {}
            own = manifest.get("outcome", {}).get("status") == "ok" and not manifest.get("killed")
            if result.status != KILLED or not own:
                problems.append(f"{label} stopped early but `corpus ls` reads it complete: {run}")
            else:
                chain.notes.append(f"{label}: killed after writing its own complete manifest")
        if run is not None and run["state"] == "no manifest":
            problems.append(f"{label} has no manifest after the chain: {run}")
        if result.status != 0 and run is None and result.fetched:
            run_dir = chain.local_root / "news" / result.run_id if chain.local_root else None
            if run_dir is not None and any(run_dir.glob("text/*.jsonl.gz")):
                problems.append(f"{label}: its files are not listed by `corpus ls`")
    last = chain.results[-1]
    if runs.get(last.run_id, {}).get("state") != "complete":
        problems.append(f"the final clean run is not complete: {runs.get(last.run_id)}")

    records = corpus_export(uri, out)
    articles = [r for r in records if urlsplit(r["url"]).path.startswith("/news/")]
    stored = Counter(urlsplit(r["url"]).path for r in articles)
    twice = sorted(p for p, n in stored.items() if n > 1)
    lost = sorted(set(chain.site.articles) - set(stored))
    if twice:
        where = {p: sorted(f"{r['run_id']} {r['fetched_at']}" for r in articles
                           if urlsplit(r["url"]).path == p) for p in twice[:5]}  # fmt: skip
        problems.append(f"{len(twice)} articles stored twice, e.g. {where}")
    if lost:
        fetched_by = {p: [res.run_id for res in chain.results if p in res.fetched]
                      for p in lost[:5]}  # fmt: skip
        problems.append(f"{len(lost)} articles lost (never in any run's text), e.g. fetched by "
                        f"{fetched_by}")  # fmt: skip

    complaint = warcio_check(warcs)
    if complaint:
        problems.append(f"warcio check fails: {complaint}")
    ids = response_ids(warcs)
    dangling = [
        r["url"] for r in articles
        if r["warc_record_id"] not in ids.get(r["warc_key"].split("/")[-3], set())
    ]  # fmt: skip
    if dangling:
        problems.append(f"{len(dangling)} text records whose WARC response is missing, e.g. "
                        f"{dangling[:3]}")  # fmt: skip
    return tally(chain, stored)


def report(chain: Chain, rows: dict[str, Tally], basetemp: Path, seconds: float) -> str:
    lines = [json.dumps({"chain": chain.name, "seed": chain.seed, "kind": kind, **vars(row),
                         "seconds": round(seconds, 1), "problems": len(chain.problems)})
             for kind, row in rows.items()]  # fmt: skip
    with (basetemp / TABLE).open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    steps = "\n".join(
        f"  {r.run_id} {r.fault.kind:<50} exit {r.status:>3} {r.seconds:5.1f}s "
        f"{'FIRED' if r.fired else 'not fired'}: {r.what} ({len(set(r.fetched))} fetched)"
        for r in chain.results
    )
    return f"{format_table([json.loads(line) for line in lines])}\n{steps}"


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (f"{'chain':<8} {'fault kind':<52} {'faults':>6} {'steps':>5} {'expected':>8} "
              f"{'found':>6} {'dup':>4} {'lost':>5}")  # fmt: skip
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['chain']:<8} {row['kind'][:52]:<52} {row['faults']:>6} "
                     f"{row['steps']:>5} {row['expected']:>8} {row['found']:>6} "
                     f"{row['duplicated']:>4} {row['lost']:>5}")  # fmt: skip
    return "\n".join(lines)


def finish(
    chain: Chain,
    rows: dict[str, Tally],
    basetemp: Path,
    started: float,
    capsys: pytest.CaptureFixture[str],
    minimum: int,
) -> None:
    text = report(chain, rows, basetemp, time.monotonic() - started)
    fired = sum(r.fired for r in chain.results)
    head = chain.tell(f"{fired} faults in {time.monotonic() - started:.0f}s")
    (chain.tmp / "fault-report.txt").write_text(
        f"{head}\n{text}\n\nPROBLEMS\n"
        + "\n\n".join(chain.problems)
        + "\n\nNOTES\n"
        + "\n\n".join(chain.notes)
        + "\n",
        encoding="utf-8",
    )
    with capsys.disabled():
        print(f"\n{head}\n{text}")
        for note in chain.notes:
            print(f"  note: {note.splitlines()[0]}")
    assert not chain.problems, chain.tell("\n\n".join(chain.problems) + "\n\n" + text)
    assert fired >= minimum, chain.tell(f"only {fired} faults fired:\n{text}")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[GrowingSite]:
    with GrowingSite() as served:
        served.publish(6, tag="s")
        yield served


@pytest.fixture
def basetemp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp()


# The soak: more seeds, longer chains; marked `soak`, run only with NEWS_SOAK=1.
SOAK_MARKS = [
    pytest.mark.soak,
    pytest.mark.skipif(not SOAK, reason="the soak runs with NEWS_SOAK=1"),
]
SEEDS = [
    pytest.param(SEED, id="default"),
    *[pytest.param(SEED + k, marks=SOAK_MARKS, id=f"soak{k}") for k in (1, 2, 3)],
]


def steps(default: int, seed: int) -> int:
    return default if seed == SEED else default * 5 // 2


def local_chain(name: str, seed: int, tmp_path: Path, site: GrowingSite, archive: Path) -> Chain:
    chain = Chain(name, seed, tmp_path, site, str(archive), local_root=archive)
    return chain


def local_warcs(archive: Path) -> list[Path]:
    return sorted(archive.glob("news/*/warc/*.warc.gz"))


def run_local(chain: Chain, faults: list[Fault], archive: Path, tmp_path: Path) -> dict:
    for fault in faults:
        chain.step(fault)
    chain.step(None)
    left = sorted(str(p) for p in archive.rglob("*.open"))
    if left:
        chain.problems.append(f"files left open after the clean run: {left}")
    return check_chain(chain, str(archive), local_warcs(archive), tmp_path / "export")


# --- stage 1: SIGKILL, SIGTERM, SIGINT on local disk ------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_kills_and_signals_on_local_disk(
    seed: int, site: GrowingSite, tmp_path: Path, basetemp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started, archive = time.monotonic(), tmp_path / "archive"
    chain = local_chain("kill", seed, tmp_path, site, archive)
    faults = plan(LOCAL_KILLS, steps(18, seed), seeded("kill", seed))
    rows = run_local(chain, faults, archive, tmp_path)
    finish(chain, rows, basetemp, started, capsys, minimum=len(faults) * 2 // 3)


# --- stage 2: ENOSPC at every write site ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_enospc_at_every_write_site(
    seed: int, site: GrowingSite, tmp_path: Path, basetemp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started, archive = time.monotonic(), tmp_path / "archive"
    chain = local_chain("enospc", seed, tmp_path, site, archive)
    faults = plan(LOCAL_ENOSPC, steps(14, seed), seeded("enospc", seed))
    rows = run_local(chain, faults, archive, tmp_path)
    finish(chain, rows, basetemp, started, capsys, minimum=len(faults) * 2 // 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_real_full_disk_at_random_sizes(
    seed: int, site: GrowingSite, tmp_path: Path, basetemp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The archive on a tmpfs remounted before each crawl with a little room left: the crawl
    runs out wherever it happens to be (WARC, text, SQLite's own writes, frontier, manifest)."""
    started, archive = time.monotonic(), tmp_path / "archive"
    if not mount_small_tmpfs(archive, "64m"):
        pytest.skip("cannot mount a tmpfs here (not root / no CAP_SYS_ADMIN)")
    try:

        def resize(fault: Fault) -> None:
            stat = os.statvfs(archive)
            used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
            size = used + fault.room if fault.room else 64 * 2**20
            subprocess.run(["mount", "-o", f"remount,size={size}", str(archive)], check=True)

        chain = local_chain("tmpfs", seed, tmp_path, site, archive)
        chain.before_step = resize
        rng = seeded("tmpfs", seed)
        faults = [Fault("ENOSPC: real tmpfs, random room", new_articles=rng.randint(6, 12),
                        room=rng.randint(12, 90) * 4096, expect=(4,))
                  for _ in range(steps(6, seed))]  # fmt: skip
        rows = run_local(chain, faults, archive, tmp_path)
        finish(chain, rows, basetemp, started, capsys, minimum=len(faults) // 2)
    finally:
        subprocess.run(["umount", "-l", str(archive)], check=False)


# --- stage 3: S3 ------------------------------------------------------------------------------

S3_PREFIX = "faults"
S3_URI = f"s3://{BUCKET}/{S3_PREFIX}"
# small files: several uploads during a crawl, not only at its end
S3_SMALL = ["WARC_MAX_SIZE=20000", "TEXT_SHARD_MAX_RECORDS=3", "S3_UPLOAD_RETRIES=1",
            "S3_RETRY_BACKOFF=0.1"]  # fmt: skip


def gate_kill(kind: str, key: str, mode: str, most: int) -> Factory:
    def make(rng: random.Random, i: int) -> Fault:
        rule = {"key": key.format(run=run_path(i), prev=run_path(i - 1)), "mode": mode,
                "at": rng.randint(1, most)}  # fmt: skip
        return Fault(kind, gate=rule, new_articles=new(rng), expect=(KILLED,))

    return make


S3_FAULTS: list[tuple[Factory, ...]] = [
    (gate_kill("S3 SIGKILL during an upload (not stored)", r"{run}(warc|text)/", "before", 4),),
    (
        gate_kill(
            "S3 SIGKILL after S3 stored, before it answered", r"{run}(warc|text)/", "stored", 4
        ),
    ),
    (gate_kill("S3 SIGKILL between uploads", r"{run}(warc|text)/", "after", 4),),
    (gate_kill("S3 SIGKILL during the manifest upload", r"{run}manifest\.json$", "before", 1),),
    (gate_kill("S3 SIGKILL after the manifest upload", r"{run}manifest\.json$", "stored", 1),),
    (kill_write("S3 SIGKILL in the manifest write in the spool", MANIFEST_TMP, -2),),
    (kill_random,),
    (
        gate_kill("S3 SIGKILL between uploads", r"{run}(warc|text)/", "after", 3),
        gate_kill("S3 SIGKILL while pushing the last victim", r"{prev}", "before", 2),
    ),
    (interrupt("SIGTERM"),),
    (enospc("S3 ENOSPC in the spool: WARC", WARC_OPEN, 24),),
    (enospc("S3 ENOSPC in the spool: text shard", TEXT_OPEN, 6),),
    (enospc("S3 ENOSPC in the spool: manifest", MANIFEST_TMP, 0),),
    (
        gate_kill("S3 SIGKILL between uploads", r"{run}(warc|text)/", "after", 3),
        enospc("S3 ENOSPC in the spool while finishing the last victim", r"{prev}", 0),
    ),
]


def s3_objects(prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


@pytest.fixture
def gated_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Gate]:
    server = Moto()
    server.start()
    assert server.server is not None and server.server._server is not None
    gate = S3Gate(server.server._server.app)
    server.server._server.app = gate
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": server.endpoint}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    try:
        yield gate
    finally:
        server.stop()


@pytest.mark.parametrize("seed", SEEDS)
def test_kills_and_full_spool_on_s3(
    seed: int,
    gated_moto: S3Gate, site: GrowingSite, tmp_path: Path, basetemp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    started, spool = time.monotonic(), tmp_path / "spool"
    local_root = spool / BUCKET / S3_PREFIX
    chain = Chain("s3", seed, tmp_path, site, S3_URI, [f"ARCHIVE_SPOOL={spool}", *S3_SMALL],
                  local_root=local_root, gate=gated_moto)  # fmt: skip

    def manifest(run_id: str) -> dict[str, Any] | None:
        key = f"{S3_PREFIX}/news/{run_id}/manifest.json"
        try:
            body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except Exception:  # not uploaded: the spool's, if any
            path = local_root / "news" / run_id / "manifest.json"
            return json.loads(path.read_text()) if path.exists() else None
        return json.loads(body)

    chain.manifest = manifest  # type: ignore[method-assign]
    faults = plan(S3_FAULTS, steps(14, seed), seeded("s3", seed))
    for fault in faults:
        chain.step(fault)
    chain.step(None)
    push = scrapy_cli("corpus", "push", "-s", f"ARCHIVE_URI={S3_URI}",
                      "-s", f"ARCHIVE_SPOOL={spool}")  # fmt: skip
    if push.returncode != 0 or "; 0 left in the spool" not in push.stdout:
        chain.problems.append(f"corpus push: exit {push.returncode}: {push.stdout}"
                              f"{push.stderr[-3000:]}")  # fmt: skip
    left = sorted(p.relative_to(spool).as_posix() for p in spool.rglob("*")
                  if p.is_file() and ".state" not in p.parts)  # fmt: skip
    if left:
        chain.problems.append(f"left in the spool after the push: {left[:20]}")
    warc_dir = tmp_path / "s3-warcs"
    for key, body in s3_objects(f"{S3_PREFIX}/news/").items():
        if re.search(r"/warc/[^/]+\.warc\.gz$", key):
            path = warc_dir / key.removeprefix(f"{S3_PREFIX}/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    rows = check_chain(chain, S3_URI, sorted(warc_dir.glob("news/*/warc/*.warc.gz")),
                       tmp_path / "export")  # fmt: skip
    finish(chain, rows, basetemp, started, capsys, minimum=len(faults) // 2)


# --- the table --------------------------------------------------------------------------------


def test_zz_fault_table(basetemp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table of every chain this session ran (with xdist: those of this worker's session
    folder and its siblings), printed and written to <basetemp>/fault-table.txt."""
    files = {*basetemp.glob(TABLE)}
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the other workers' folders of this session only
        files |= {*basetemp.parent.glob(f"popen-gw*/{TABLE}")}
    rows = [json.loads(line) for f in sorted(files) for line in f.read_text().splitlines()]
    if not rows:
        pytest.skip("no fault chain ran in this session")
    per_kind = [r for r in rows if not r["kind"].startswith("= chain")]
    totals = [r for r in rows if r["kind"].startswith("= chain")]
    total = {"chain": "all", "kind": "= every chain, every article",
             **{k: sum(r[k] for r in totals) for k in
                ("faults", "steps", "expected", "found", "duplicated", "lost")}}  # fmt: skip
    text = format_table([*sorted(per_kind, key=lambda r: (r["chain"], r["kind"])), *totals,
                         total])  # fmt: skip
    seeds = sorted({r["seed"] for r in rows})
    seconds = " ".join(f"{r['chain']}={r['seconds']}s" for r in totals)
    text = f"fault injection (FAULT_SEED={','.join(map(str, seeds))}; {seconds})\n{text}"
    (basetemp / "fault-table.txt").write_text(text + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\n" + text)
    assert total["duplicated"] == 0 and total["lost"] == 0, text
