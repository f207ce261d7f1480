"""CPU and memory of a benchmark process, its threads and its child processes (Linux /proc)."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path


def proc_stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: [1] ppid, [11] utime, [12] stime."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def cpu_seconds(fields: list[str]) -> float:
    """User + system CPU seconds of a proc_stat() line."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds one process has used so far."""
    return cpu_seconds(proc_stat(pid))


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def children_cpu() -> float:
    """CPU seconds used so far by the live descendant processes: the extraction workers are
    the forkserver's children, not this process's (counting children only saw none of them)."""
    children: dict[str, list[str]] = {}
    cpu: dict[str, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = proc_stat(entry.name)
        except OSError:
            continue  # exited meanwhile
        children.setdefault(fields[1], []).append(entry.name)
        cpu[entry.name] = cpu_seconds(fields)
    total, todo = 0.0, list(children.get(str(os.getpid()), []))
    while todo:
        pid = todo.pop()
        total += cpu[pid]
        todo.extend(children.get(pid, []))
    return total


class CpuMeter:
    """CPU seconds of this process and its children between two page counts."""

    def __init__(self, warm_at: int) -> None:
        self.warm_at = warm_at  # pages before the first snapshot: start-up left out
        self.pages = 0
        self.start: tuple[int, float, float, float] | None = None
        self.end: tuple[int, float, float, float] | None = None

    def snapshot(self) -> tuple[int, float, float, float]:
        # called from the reactor thread (signal handlers): thread_time() is the reactor's own
        # CPU, without the WARC writer thread's that process_time() includes
        return self.pages, time.process_time(), children_cpu(), time.thread_time()

    def page_done(self, count: int = 1) -> None:
        self.pages += count
        if self.start is None and self.pages >= self.warm_at:
            self.start = self.snapshot()

    def finish(self) -> None:
        self.end = self.snapshot()

    def results(self) -> dict[str, float]:
        """ms per page: steady (between the snapshots) and over the process's whole run."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers reaped by then
        out = {
            "run_main_ms": 1000 * (own.ru_utime + own.ru_stime) / max(self.pages, 1),
            "run_workers_ms": 1000 * (kids.ru_utime + kids.ru_stime) / max(self.pages, 1),
        }
        if self.start and self.end and self.end[0] > self.start[0]:
            pages = self.end[0] - self.start[0]
            out["main_ms"] = 1000 * (self.end[1] - self.start[1]) / pages
            out["workers_ms"] = 1000 * (self.end[2] - self.start[2]) / pages
            out["reactor_ms"] = 1000 * (self.end[3] - self.start[3]) / pages
        return out
