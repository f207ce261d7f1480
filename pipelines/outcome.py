"""How a run went, as one exit status (README "Exit status"): cron reads only that.

`decide_outcome()` is the one place that maps a finished run (its close reason, stats and the
files left in the S3 spool) to `(exit_code, status, why)`. RunManifestExtension writes the
result into the manifest and the stats (`news/exit_*`); `scrapy crawl` exits with it.

An interrupted run (SIGTERM from `systemctl stop` or Scrapyd's cancel, Ctrl-C) closes with
Scrapy's reason `shutdown` after its in-flight pages; crawler.control.extensions.InterruptExtension
records which signal came, and after how many pages. It is not `ok`: cron and systemd must not
read a run that fetched a third of its pages as a finished one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

# Set by crawler.control.extensions.InterruptExtension (the signal, and the pages fetched then), and
# Scrapy's close reason after the first SIGINT/SIGTERM.
from crawler.control.extensions import INTERRUPTED_AFTER_STAT, INTERRUPTED_BY_STAT, SHUTDOWN_REASON

# The writers' signals of a failed write: a one-line stat and their close reason.
from crawler.storage_base import STORAGE_ERROR_STAT
from crawler.storage_base import STORAGE_FAILED as STORAGE_FAILED_REASON

OK, BAD_INPUT, NOTHING_FETCHED, STORAGE_FAILED, SPOOLED, INTERRUPTED = 0, 2, 3, 4, 5, 6
# Outcomes of a run that did not do all it was asked to: its manifest says `"complete": false`.
INCOMPLETE = frozenset({STORAGE_FAILED, SPOOLED, INTERRUPTED})
# Where the crawl command reads the outcome back (the manifest holds it as "outcome").
EXIT_CODE_STAT = "news/exit_code"
EXIT_STATUS_STAT = "news/exit_status"
EXIT_WHY_STAT = "news/exit_why"
# Download errors by kind, for "nothing fetched" (matched on the exception's class name).
DOWNLOAD_ERROR_KINDS = (
    (("CannotResolveHostError", "DNSLookupError"), "DNS errors"),
    (("ConnectionRefusedError",), "connection refused"),
    (("TimeoutError", "TimedOutError"), "timeouts"),
)
EXCEPTION_STAT = "downloader/exception_type_count/"
# The SSRF guard's refusals raise this too; they are counted by reason under REFUSED_STAT.
REFUSAL_EXCEPTION = "RefusedRequest"
REFUSED_STAT = "news/refused/"


class Outcome(NamedTuple):
    exit_code: int
    status: str  # ok | nothing_fetched | storage_failed | spooled | interrupted
    why: str  # one line

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()

    def record(self, stats: Any) -> None:
        """Into a StatsCollector, where `scrapy crawl` reads it after the run."""
        stats.set_value(EXIT_CODE_STAT, self.exit_code)
        stats.set_value(EXIT_STATUS_STAT, self.status)
        stats.set_value(EXIT_WHY_STAT, self.why)

    @classmethod
    def recorded(cls, stats: Mapping[str, Any]) -> Outcome | None:
        if EXIT_CODE_STAT not in stats:
            return None
        return cls(stats[EXIT_CODE_STAT], stats[EXIT_STATUS_STAT], stats[EXIT_WHY_STAT])


def storage_failure(error: str) -> Outcome:
    return Outcome(STORAGE_FAILED, "storage_failed", f"storage failed: {error}")


def interrupted(
    stats: Mapping[str, Any], spooled: Collection[str] = (), forced: bool = False
) -> Outcome:
    """`interrupted: SIGTERM received after 131 pages; 140 responses, 52 articles stored; run
    it again to continue ...` (pages in flight when the signal came are finished and stored).
    `forced`: a second signal stopped the process before the run wrote its manifest."""
    signame = stats.get(INTERRUPTED_BY_STAT) or "a shutdown request"
    after = stats.get(INTERRUPTED_AFTER_STAT)
    received = f"{signame} received" + (f" after {after} pages" if after is not None else "")
    responses = stats.get("response_received_count", 0)
    articles = stats.get("news/articles", 0)
    then = "run it again to continue (stored pages are not fetched again)"
    if forced:
        then = "forced to stop by a second signal, without manifest: the next run repairs the run"
    elif spooled:
        then = f"{len(spooled)} file(s) wait in the spool (`scrapy corpus push`); {then}"
    return Outcome(
        INTERRUPTED, "interrupted",
        f"interrupted: {received}; {responses} responses, {articles} articles stored; {then}",
    )  # fmt: skip


def decide_outcome(reason: str, stats: Mapping[str, Any], spooled: Collection[str]) -> Outcome:
    """The worst thing that happened wins: lost writes, then a stop asked for by a signal (an
    empty run too: it was stopped, not refused), then an empty run, then pending uploads."""
    if reason == STORAGE_FAILED_REASON or STORAGE_ERROR_STAT in stats:
        return storage_failure(stats.get(STORAGE_ERROR_STAT) or "a write failed (see the log)")
    if reason == SHUTDOWN_REASON or INTERRUPTED_BY_STAT in stats:
        return interrupted(stats, spooled)
    responses = stats.get("response_received_count", 0)
    if not responses:
        return Outcome(NOTHING_FETCHED, "nothing_fetched", nothing_fetched_why(stats))
    if spooled:
        return Outcome(
            SPOOLED, "spooled",
            f"uploads left in the spool: {len(spooled)} file(s) wait to be uploaded; "
            "run `scrapy corpus push`",
        )  # fmt: skip
    articles = stats.get("news/articles", 0)
    return Outcome(OK, "ok", f"{reason}: {responses} responses, {articles} articles stored")


def nothing_fetched_why(stats: Mapping[str, Any]) -> str:
    """`nothing fetched: 0 responses for 6 requests (DNS errors: 3, connection refused: 3)`."""
    errors: Counter[str] = Counter()
    for name, count in stats.items():
        exception = name.rsplit(".", 1)[-1]
        if name.startswith(EXCEPTION_STAT) and exception != REFUSAL_EXCEPTION:
            errors[download_error_kind(exception)] += count
        elif name.startswith(REFUSED_STAT):  # the SSRF guard's refusals, by reason
            errors[f"refused as {name.removeprefix(REFUSED_STAT)}"] += count
    # Attempts, retries included; a request failed in a middleware (DNS) is not in request_count.
    requests = max(stats.get("downloader/request_count", 0), errors.total())
    detail = ", ".join(f"{kind}: {count}" for kind, count in sorted(errors.items()))
    return f"nothing fetched: 0 responses for {requests} requests" + (
        f" ({detail})" if detail else ""
    )


def download_error_kind(exception: str) -> str:
    for suffixes, kind in DOWNLOAD_ERROR_KINDS:
        if exception.endswith(suffixes):
            return kind
    return exception
