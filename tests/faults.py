"""Fault injection for tests/test_faults.py (#21): a hook a crawl loads from its PYTHONPATH
(a `sitecustomize`), a growing news site, an S3 gate, and the chain that runs crawl after
crawl, each one the next victim, then checks what the archive holds.

The hook reads one JSON plan from the environment (FAULT_PLAN) and acts on the Nth matching
event of each rule, noting in the plan's `fired` file what it did before it does it:
- op "write": a Python file write (`open()`, `Path.open`, gzip, ...; and `os.write()` on a file
  opened so, which is how queuelib writes the frontier) to a path matching `path` (a regex on
  the real path). action "kill": SIGKILL the process `before` the write, after writing half of
  it (`torn`), or `after` it. action "enospc": a short write (`torn`) or none (`before`), then
  ENOSPC; every later matching write fails too (a disk that is full stays full).
- op "rename": `os.rename` / `os.replace` (so `Path.rename`, `Path.replace`) of a source path
  matching `path`; action "kill" `before` or `after` it.
- op "sql": `execute()` / `executemany()` of a statement matching `sql` on an SQLite database
  whose path matches `path`; action "kill" `before` or `after` it.
- op "sqlite_pages": an SQLite database whose path matches `path` may grow by `pages` pages
  (4 KiB) from its size when opened (`PRAGMA max_page_count`): then SQLite's own SQLITE_FULL,
  from C, where the disk would fill.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import PROJECT_ROOT
from tests.test_hostile import HostileSite, Page, _Handler, article, html

WARCIO = Path(sys.executable).parent / "warcio"
GUARDED = [
    "AUTOTHROTTLE_ENABLED=False", "DOWNLOAD_DELAY=0", "NEWS_ALLOWED_NETWORKS=127.0.0.1/32",
    "DOWNLOAD_TIMEOUT=10", "NEWS_EXTRACT_PROCESSES=0", "LOG_LEVEL=INFO",
]  # fmt: skip

SITECUSTOMIZE = r"""
import builtins, errno, io, json, os, re, signal, sqlite3

_PLAN = os.environ.get("FAULT_PLAN")


def _install(plan):
    fired_path = plan["fired"]
    rules = plan["rules"]
    for rule in rules:
        rule["seen"] = 0
        rule["tripped"] = False
        rule["rx"] = re.compile(rule.get("path", ""))
        rule["sqlrx"] = re.compile(rule.get("sql", ""), re.I)
    real_open, real_write = io.open, os.write
    real_rename, real_replace, real_connect = os.rename, os.replace, sqlite3.connect
    fds = {}

    def note(rule, what):
        fd = os.open(fired_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        real_write(fd, (json.dumps({"rule": rule["name"], "what": what}) + "\n").encode())
        os.close(fd)

    def kill(rule, what):
        note(rule, what)
        os.kill(os.getpid(), signal.SIGKILL)

    def matching(op, path):
        try:
            real = os.path.realpath(os.fspath(path))
        except (TypeError, ValueError):
            return [], ""
        return [r for r in rules if r["op"] == op and r["rx"].search(real)], real

    def on_write(hits, data, write, where):
        data = memoryview(data).cast("B")
        for rule in hits:
            if rule["tripped"] and rule["action"] == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if not len(data):
            return write(data)
        for rule in hits:
            rule["seen"] += 1
            if rule["seen"] != rule["at"]:
                continue
            rule["tripped"] = True
            mode, what = rule.get("mode", "torn"), f"{rule['mode']} write #{rule['at']} {where}"
            if rule["action"] == "kill":
                if mode == "torn" and len(data) > 1:
                    write(data[: len(data) // 2])
                elif mode == "after":
                    write(data)
                kill(rule, what)
            note(rule, what)
            if mode == "torn" and len(data) > 1:
                return write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(data)

    class FaultFile(io.FileIO):
        hits = ()
        where = ""

        def write(self, data):
            return on_write(self.hits, data, lambda d: io.FileIO.write(self, d), self.where)

        def close(self):
            if not self.closed:
                fds.pop(self.fileno(), None)
            super().close()

    def fault_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
                   closefd=True, opener=None):
        writes = any(flag in mode for flag in "wax+")
        hits = []
        if writes and not isinstance(file, int):
            found = matching("write", file)
            hits = found[0] if found else []
        if not hits:
            return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        raw = FaultFile(file, mode.replace("b", "").replace("t", ""), closefd, opener)
        raw.hits, raw.where = hits, found[1]
        fds[raw.fileno()] = raw
        if buffering == 0:
            return raw
        size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
        buffered = (io.BufferedRandom if "+" in mode else io.BufferedWriter)(raw, size)
        if "b" in mode:
            return buffered
        return io.TextIOWrapper(buffered, io.text_encoding(encoding), errors, newline,
                                line_buffering=buffering == 1)

    def fault_os_write(fd, data):
        raw = fds.get(fd)
        if raw is None:
            return real_write(fd, data)
        return on_write(raw.hits, data, lambda d: real_write(fd, d), raw.where)

    def renamer(real):
        def rename(src, dst, *args, **kwargs):
            found = matching("rename", src)
            for rule in found[0] if found else []:
                rule["seen"] += 1
                if rule["seen"] == rule["at"]:
                    what = f"{rule['mode']} rename #{rule['at']} {found[1]}"
                    if rule["mode"] == "before":
                        kill(rule, what)
                    real(src, dst, *args, **kwargs)
                    kill(rule, what)
            return real(src, dst, *args, **kwargs)
        return rename

    class FaultConnection(sqlite3.Connection):
        sql_rules = ()
        where = ""

        def _hit(self, sql):
            for rule in self.sql_rules:
                if rule["sqlrx"].search(sql):
                    rule["seen"] += 1
                    if rule["seen"] == rule["at"]:
                        return rule
            return None

        def _run(self, method, sql, *args):
            rule = self._hit(sql)
            what = f"{rule['mode']} statement #{rule['at']} {self.where}" if rule else ""
            if rule and rule["mode"] == "before":
                kill(rule, what)
            result = method(sql, *args)
            if rule:
                kill(rule, what)
            return result

        def execute(self, sql, *args):
            return self._run(super().execute, sql, *args)

        def executemany(self, sql, *args):
            return self._run(super().executemany, sql, *args)

    def fault_connect(database, *args, **kwargs):
        found = matching("sql", database) if not isinstance(database, int) else None
        sql_rules = found[0] if found else []
        found_pages = matching("sqlite_pages", database) if not isinstance(database, int) else None
        pages = found_pages[0] if found_pages else []
        if sql_rules and "factory" not in kwargs:
            kwargs["factory"] = FaultConnection
        db = real_connect(database, *args, **kwargs)
        if sql_rules and isinstance(db, FaultConnection):
            db.sql_rules, db.where = sql_rules, found[1]
        for rule in pages:
            count = db.execute("PRAGMA page_count").fetchone()[0]
            limit = max(count, 1) + int(rule["pages"])  # 0 would mean "no limit"
            db.execute(f"PRAGMA max_page_count = {limit}")
            note(rule, f"max_page_count {limit} (had {count}) {found_pages[1]}")
        return db

    io.open = builtins.open = fault_open
    os.write = fault_os_write
    os.rename = renamer(real_rename)
    os.replace = renamer(real_replace)
    sqlite3.connect = fault_connect


if _PLAN:
    _install(json.loads(_PLAN))
"""


def hook_dir(tmp: Path) -> Path:
    """A folder holding the hook as `sitecustomize.py`, for a crawl's PYTHONPATH."""
    folder = tmp / "fault-hook"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder


# --- the site ---------------------------------------------------------------------------------


class _SlowHandler(_Handler):
    delay = 0.02

    def do_GET(self) -> None:
        if self.path.startswith("/news/"):
            time.sleep(self.delay)
        super().do_GET()


class GrowingSite(HostileSite):
    """A news site on 127.0.0.1 that publishes new articles between crawls: each run of a
    chain has new work. Long slugs, so each seen mark takes room in SQLite."""

    def __init__(self) -> None:
        super().__init__()
        self.httpd.RequestHandlerClass = _SlowHandler
        self.articles: list[str] = []
        self.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        self.publish(0)

    def publish(self, count: int, tag: str = "") -> list[str]:
        new = []
        for _ in range(count):
            n = len(self.articles)
            slug = f"harbour-story-{n:04d}-{tag}-" + "-".join(["ferry-timetable-council"] * 4)
            path = f"/news/{slug}/"
            self.pages[path] = html(article(f"Harbour story number {n} of the season {tag}"))
            self.articles.append(path)
            new.append(path)
        links = "".join(
            f"<li><a href='{p}'>Story {i}</a></li>" for i, p in enumerate(self.articles)
        )
        self.pages["/"] = html(
            f"<html><head><title>Harbour Post</title></head><body><ul>{links}</ul></body></html>"
        )
        return new

    def mark(self) -> int:
        with self.lock:
            return len(self.requests)

    def fetched_articles(self, since: int, until: int | None = None) -> list[str]:
        with self.lock:
            paths = self.requests[since:until]
        return [urlsplit(p).path for p in paths if p.startswith("/news/")]


# --- S3: a gate in front of moto's app, to kill the crawl in the middle of an upload ----------


class S3Gate:
    """WSGI middleware around moto's app: on the Nth PUT of a key matching a rule, SIGKILL
    the victim `before` moto stores the object (the upload dies in flight), once it is
    `stored` but before S3 answers (the object is there, the crawler never heard), or
    `after` the answer (between two uploads)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.rule: dict[str, Any] | None = None
        self.victim: subprocess.Popen[str] | None = None
        self.fired: list[str] = []
        self.lock = threading.Lock()

    def arm(self, victim: subprocess.Popen[str], rule: dict[str, Any] | None) -> None:
        with self.lock:
            self.victim, self.rule, self.seen = victim, dict(rule) if rule else None, 0

    def _kill(self, what: str) -> None:
        victim = self.victim
        if victim is not None and victim.poll() is None:
            self.fired.append(what)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        hit = None
        with self.lock:
            rule = self.rule
            if rule and method in ("PUT", "POST") and re.search(rule["key"], path):
                self.seen += 1
                if self.seen == rule["at"]:
                    hit, self.rule = rule, None
        if hit is None:
            return self.app(environ, start_response)
        what = f"{hit['mode']} {method} #{hit['at']} {path}"
        if hit["mode"] == "before":
            self._kill(what)
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        if hit["mode"] == "stored":
            body = b"".join(self.app(environ, start_response))
            self._kill(what)
            return [body]
        threading.Timer(0.02, self._kill, args=(what,)).start()
        return self.app(environ, start_response)


# --- a step of a chain: one crawl, one fault --------------------------------------------------


@dataclass
class Fault:
    kind: str  # the table's row
    rules: list[dict[str, Any]] = field(default_factory=list)  # hook rules (see above)
    signal: str = ""  # SIGKILL | SIGTERM | SIGINT | SIGTERMx2: sent from outside
    after_articles: int = 0  # ... once this many articles of this run were requested
    after_seconds: float = 0.0  # ... or this long after the start (when > 0)
    gate: dict[str, Any] | None = None  # S3Gate rule
    expect: tuple[int, ...] = ()  # exit statuses that mean "the fault happened and was handled"
    new_articles: int = 8
    room: int = 0  # tmpfs: bytes of room left when the crawl starts


@dataclass
class StepResult:
    index: int
    run_id: str
    fault: Fault
    status: int
    fired: bool
    what: str
    fetched: list[str]
    log: Path
    seconds: float


@dataclass
class Chain:
    """Runs crawls one after another on one archive; each is the next victim."""

    name: str
    seed: int
    tmp: Path
    site: GrowingSite
    archive_uri: str
    settings: list[str] = field(default_factory=list)
    local_root: Path | None = None  # where run folders are on disk (archive, or the spool's)
    gate: S3Gate | None = None
    before_step: Callable[[Fault], None] | None = None
    results: list[StepResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, not failed

    def __post_init__(self) -> None:
        self.hook = hook_dir(self.tmp)
        self.logs = self.tmp / "logs"
        self.logs.mkdir(exist_ok=True)

    def tell(self, text: str) -> str:
        return f"[chain {self.name}, FAULT_SEED={self.seed}] {text}"

    def command(self, run_id: str) -> list[str]:
        options = [f"ARCHIVE_URI={self.archive_uri}", f"ARCHIVE_RUN_ID={run_id}",
                   *GUARDED, *self.settings]  # fmt: skip
        return [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"urls={self.site.base}/",
                *[a for s in options for a in ("-s", s)]]  # fmt: skip

    def step(self, fault: Fault | None) -> StepResult:
        index = len(self.results)
        run_id = f"step-{index:02d}"
        fault = fault or Fault("clean run", new_articles=0, expect=(0,))
        self.site.publish(fault.new_articles, tag=f"s{index}")
        if self.before_step is not None:
            self.before_step(fault)
        fired_file = self.tmp / f"fired-{index:02d}.jsonl"
        env = dict(os.environ)
        if fault.rules:
            rules = [dict(rule, name=f"{fault.kind} [{i}]") for i, rule in enumerate(fault.rules)]
            env["FAULT_PLAN"] = json.dumps({"fired": str(fired_file), "rules": rules})
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(self.hook), env.get("PYTHONPATH")])
            )
        log = self.logs / f"{run_id}.log"
        start, mark = time.monotonic(), self.site.mark()
        sent = ""
        with log.open("w") as stderr:
            process = subprocess.Popen(
                self.command(run_id),
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
            if self.gate is not None:
                self.gate.arm(process, fault.gate)
            try:
                if fault.signal:
                    sent = self._signal(process, fault, start, mark)
                status = process.wait(timeout=120)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                if self.gate is not None:
                    self.gate.arm(None, None)  # type: ignore[arg-type]
        seconds = time.monotonic() - start
        what = sent
        if fired_file.exists():
            lines = [json.loads(line) for line in fired_file.read_text().splitlines()]
            acts = [x["what"] for x in lines if not x["what"].startswith("max_page_count")]
            what = "; ".join(acts) or what
            if not acts and status == 4:
                what = "SQLITE_FULL: " + lines[0]["what"]
        if self.gate is not None and self.gate.fired:
            what = "; ".join(self.gate.fired)
            self.gate.fired = []
        fired = self._fired(fault, status, what)
        result = StepResult(index, run_id, fault, status, fired, what,
                            self.site.fetched_articles(mark), log, seconds)  # fmt: skip
        self.results.append(result)
        self._check_step(result)
        return result

    def _signal(self, process: subprocess.Popen[str], fault: Fault, start: float, mark: int) -> str:
        deadline = start + 60
        while process.poll() is None and time.monotonic() < deadline:
            if fault.after_seconds:
                if time.monotonic() - start >= fault.after_seconds:
                    break
            elif len(self.site.fetched_articles(mark)) >= fault.after_articles:
                break
            time.sleep(0.005)
        if process.poll() is not None:
            return ""
        name = fault.signal.removesuffix("x2")
        process.send_signal(getattr(signal, name))
        if fault.signal.endswith("x2"):
            time.sleep(0.05)
            if process.poll() is None:
                process.send_signal(getattr(signal, name))
        where = (f"{fault.after_seconds:.2f}s" if fault.after_seconds
                 else f"{len(self.site.fetched_articles(mark))} articles")  # fmt: skip
        return f"{fault.signal} after {where}"

    @staticmethod
    def _fired(fault: Fault, status: int, what: str) -> bool:
        if (
            fault.signal == "SIGKILL"
            or fault.gate
            or any(r["action"] == "kill" for r in fault.rules)
        ):
            return status == -signal.SIGKILL
        if fault.signal:
            return bool(what) and status != 0
        if fault.rules or fault.room:
            return status == 4
        return False

    def manifest(self, run_id: str) -> dict[str, Any] | None:
        if self.local_root is None:
            return None
        path = self.local_root / "news" / run_id / "manifest.json"
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def _check_step(self, result: StepResult) -> None:
        """The cheap checks of one step: its exit status, and the manifest it left."""
        fault, log = result.fault, result.log.read_text(errors="replace")
        tag = f"step {result.index} ({fault.kind}: {result.what or 'did not fire'})"
        if fault.kind == "clean run":
            if result.status != 0:
                self.problems.append(f"{tag}: the clean run exited {result.status}:\n{log[-3000:]}")
            return
        if result.fired and fault.expect and result.status not in fault.expect:
            self.problems.append(f"{tag}: exit {result.status}, expected one of {fault.expect}:"
                                 f"\n{log[-3000:]}")  # fmt: skip
        if result.status not in (0, -signal.SIGKILL, 4, 5, 6):
            self.problems.append(f"{tag}: exit {result.status}:\n{log[-3000:]}")
        if result.status in (4, 5, 6, -signal.SIGKILL) and "Traceback" in log:
            # not an invariant of #21 (the data is checked at the chain's end): noted
            first = log[log.index("Traceback") - 300 :][:2500]
            self.notes.append(f"{tag}: a traceback in the log:\n{first}")
        manifest = self.manifest(result.run_id)
        if result.status in (4, 6) and self.local_root is not None:
            forced = "forced to stop by a second signal" in log
            # a manifest that could not be written is finished by the next run (checked then)
            if manifest is None and not forced:
                # a full disk may leave no room for it (at the start, or the manifest itself):
                # the next run finishes the run, which the chain's end checks
                (self.problems if result.status == 6 else self.notes).append(
                    f"{tag}: exit {result.status} left no manifest"
                )
            elif manifest is not None and manifest.get("complete") is not False:
                self.problems.append(
                    f"{tag}: stopped early (exit {result.status}) but its "
                    f"manifest reads complete: {manifest.get('complete')}"
                )


# --- what the archive holds -------------------------------------------------------------------


def scrapy_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def corpus_runs(uri: str) -> dict[str, dict[str, Any]]:
    listing = scrapy_cli("corpus", "ls", uri, "--json")
    assert listing.returncode == 0, listing.stderr[-3000:]
    runs = [json.loads(line) for line in listing.stdout.splitlines() if line.startswith("{")]
    return {run["run_id"]: run for run in runs}


def corpus_export(uri: str, out: Path) -> list[dict[str, Any]]:
    """Every text record `corpus export` reads, duplicates kept (they are what is counted)."""
    result = scrapy_cli(
        "corpus",
        "export",
        uri,
        "--out",
        str(out),
        "--format",
        "jsonl",
        "--keep-duplicates",
        "--cache",
        str(out.with_name(out.name + "-cache")),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = []
    for path in sorted((out / "data").rglob("*.jsonl*")):
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
        records += [json.loads(line) for line in text.splitlines() if line.strip()]
    return records


def warcio_check(warcs: list[Path]) -> str:
    """`warcio check` over every WARC at once: '' when all pass, else its complaint."""
    if not warcs:
        return ""
    check = subprocess.run([str(WARCIO), "check", *map(str, warcs)], capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    return "" if check.returncode == 0 else (check.stdout + check.stderr)[-3000:]


@dataclass
class Tally:
    """Per fault kind: faults injected, and the articles its victims fetched, by outcome."""

    faults: int = 0
    steps: int = 0
    expected: int = 0
    found: int = 0
    duplicated: int = 0
    lost: int = 0


def tally(chain: Chain, stored: Counter[str]) -> dict[str, Tally]:
    """Per fault kind: the articles whose last fetch by a faulted crawl was by a victim of that
    kind (its outcome is the one that counts), by outcome; a chain-wide row holds every article
    of the site."""
    rows: dict[str, Tally] = {}
    last: dict[str, str] = {}
    for result in chain.results:
        if result.fault.kind == "clean run":
            continue
        row = rows.setdefault(result.fault.kind, Tally())
        row.steps += 1
        row.faults += int(result.fired)
        for path in result.fetched:
            last[path] = result.fault.kind
    for path, kind in last.items():
        row = rows[kind]
        row.expected += 1
        row.found += int(stored[path] >= 1)
        row.duplicated += int(stored[path] > 1)
        row.lost += int(stored[path] == 0)
    total = Tally(
        faults=sum(r.faults for r in rows.values()), steps=sum(r.steps for r in rows.values())
    )
    for path in chain.site.articles:
        total.expected += 1
        total.found += int(stored[path] >= 1)
        total.duplicated += int(stored[path] > 1)
        total.lost += int(stored[path] == 0)
    rows[f"= chain {chain.name}: every article"] = total
    return rows


def seeded(name: str, master: int) -> random.Random:
    return random.Random(f"{master}:{name}")
