"""Start-up checks: a mistyped setting or spider argument stops the run before it fetches.

Without them `-s ARCHIVE_URL=s3://...` (for ARCHIVE_URI) was ignored and the run went to
./archive, and `-s WARC_MAX_SIZE=1GB` failed deep in a writer without naming the setting.

- A setting with one of the project's prefixes (NEWS_, WARC_, ARCHIVE_, S3_, ...: those of the
  names the project settings module adds to Scrapy's) that no settings module defines is a typo.
- Byte sizes accept ``1GiB``, ``512MiB``, ``1.5 GiB``, ``1GB`` (decimal) and plain byte counts;
  durations ``24h``, ``1d``, ``1h30m``, ``90s`` and plain seconds; both are written back to the
  settings as numbers before any component reads them.
- A setting of the project settings module whose default is a number or a boolean must parse
  as one, and a limit or count (LIMITS) must be in its range: `DEPTH_LIMIT=-1`,
  `NEWS_MAX_PAGES_PER_DOMAIN=-1` or `NEWS_MAX_LINKS_PER_PAGE=-1` used to drop every link and
  store nothing, exit 0. Where 0 has a meaning (no limit, never, off) the message says it.
- LOG_LEVEL must be a logging level (any case, or a number); the crawl command checks it
  before Scrapy sets up logging, which otherwise fails with a traceback.

Every error is a `StartupError` (a ValueError) with a one-line message naming the setting or
argument. The checks run from `StartupCheckAddon` (ADDONS) and, because Scrapy builds the
spider before it loads add-ons, from NewsSpider.from_crawler too; they are idempotent.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any

from scrapy.settings import BaseSettings, default_settings

# Byte-size settings, ours and Scrapy's.
SIZE_SETTINGS = (
    "WARC_MAX_SIZE", "DOWNLOAD_MAXSIZE", "DOWNLOAD_WARNSIZE", "S3_MULTIPART_THRESHOLD",
    "S3_MULTIPART_CHUNKSIZE", "SCRAPER_SLOT_MAX_ACTIVE_SIZE",
)  # fmt: skip
# Settings in seconds, ours and Scrapy's.
DURATION_SETTINGS = (
    "WARC_MAX_AGE", "REDIS_WORKER_TIMEOUT", "S3_RETRY_BACKOFF", "CLOSESPIDER_TIMEOUT",
    "DOWNLOAD_TIMEOUT",
)  # fmt: skip
# Scrapy's CloseSpider counts (its default settings; the project module names some in comments).
CLOSESPIDER_COUNTS = (
    "CLOSESPIDER_ITEMCOUNT", "CLOSESPIDER_PAGECOUNT", "CLOSESPIDER_ERRORCOUNT",
    "CLOSESPIDER_PAGECOUNT_NO_ITEM",
)  # fmt: skip
# Settings scrapy-redis reads (scrapy_redis/connection.py, defaults.py): REDIS_* but not ours.
SCRAPY_REDIS_SETTINGS = frozenset({
    "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_ENCODING", "REDIS_DECODE_RESPONSES",
    "REDIS_PARAMS", "REDIS_CLS", "REDIS_ITEMS_KEY", "REDIS_ITEMS_SERIALIZER",
    "REDIS_START_URLS_KEY", "REDIS_START_URLS_AS_SET", "REDIS_START_URLS_AS_ZSET",
    "REDIS_START_URLS_BATCH_SIZE", "REDIS_CONCURRENT_REQUESTS",
})  # fmt: skip
# Spider attributes Scrapy (deprecated in 2.19) reads as settings: `-a` gives them as strings,
# which its middlewares do not convert, so they are refused with the setting to use.
SPIDER_ATTRIBUTE_SETTINGS = {
    "user_agent": "USER_AGENT",
    "download_timeout": "DOWNLOAD_TIMEOUT",
    "download_delay": "DOWNLOAD_DELAY",
    "download_maxsize": "DOWNLOAD_MAXSIZE",
    "download_warnsize": "DOWNLOAD_WARNSIZE",
    "max_concurrent_requests": "CONCURRENT_REQUESTS_PER_DOMAIN",
    "http_user": "HTTPAUTH_USER",
    "http_pass": "HTTPAUTH_PASS",
    "http_auth_domain": "HTTPAUTH_DOMAIN",
}

SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NUMBER = r"\d+(?:\.\d+)?"
_SIZE = re.compile(rf"({_NUMBER})\s*([a-z]*)", re.IGNORECASE)
_DURATION_PART = re.compile(rf"\s*({_NUMBER})\s*([smhdw])", re.IGNORECASE)
_NEGATIVE = re.compile(rf"\s*-\s*{_NUMBER}\s*[a-z]*\s*", re.IGNORECASE)


class StartupError(ValueError):
    """A bad spider argument or setting, found before the run fetches anything."""


class SettingError(StartupError):
    pass


class ArgumentError(StartupError):
    pass


# --- parsers ------------------------------------------------------------------------------------


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def parse_size(value: Any) -> int:
    """Bytes from ``1GiB``, ``512 MiB``, ``1.5GiB``, ``1GB`` (10**9), ``4096`` or an int."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return round(value)
    match = _SIZE.fullmatch(str(value).strip())
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in SIZE_UNITS:
        raise ValueError("not a size: use bytes, or e.g. 512MiB, 1GiB (binary) or 1GB (decimal)")
    return round(float(match.group(1)) * SIZE_UNITS[unit])


def parse_duration(value: Any) -> int | float:
    """Seconds from ``24h``, ``1d``, ``1h30m``, ``90s``, ``2.5`` or a number."""
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if re.fullmatch(_NUMBER, text):
        return _whole(float(text))
    if isinstance(value, bool) or not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError("not a duration: use seconds, or e.g. 90s, 30m, 24h, 1d, 1h30m")
    return _whole(sum(float(n) * DURATION_UNITS[u.lower()] for n, u in parts))


def parse_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("not a whole number") from None


def parse_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError("not a number") from None


def parse_bool(value: Any) -> bool:
    return BaseSettings({"value": value}).getbool("value")  # Scrapy's own reading of booleans


# Settings not read as the type of their default in the project module says.
READ_AS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(SIZE_SETTINGS, parse_size),
    **dict.fromkeys(DURATION_SETTINGS, parse_duration),
    "NEWS_EXTRACT_PROCESSES": parse_int,  # default None: one process a core
    "NEWS_MAX_AGE_DAYS": parse_float,  # default 30, and half a day is fine too
    # Scrapy's CloseSpider counts, named in the project module's comments only
    **dict.fromkeys(CLOSESPIDER_COUNTS, parse_int),
    "CLOSESPIDER_TIMEOUT_NO_ITEM": parse_duration,
}


@dataclass(frozen=True)
class Limit:
    """The range of a limit or count: from `least` (above it when `above`), up to `most`;
    `zero` says what 0 means where it is allowed and not plainly zero."""

    least: float = 0
    most: float | None = None
    above: bool = False
    zero: str = ""

    def problem(self, value: float) -> str | None:
        low = value <= self.least if self.above else value < self.least
        if not low and (self.most is None or value <= self.most):
            return None
        if self.most is not None:
            return f"must be from {self.least:g} to {self.most:g}"
        if self.above:
            return f"must be more than {self.least:g}"
        return f"must be {self.least:g} or more" + (f" ({self.zero})" if self.zero else "")


NO_LIMIT = Limit(zero="0 = no limit")
AT_LEAST_ONE = Limit(least=1)
# Every limit, count, delay and size of the project settings module (a test checks that each
# number there is listed, or in FREE_NUMBERS) and Scrapy's CloseSpider counts.
LIMITS: dict[str, Limit] = {
    "DEPTH_LIMIT": NO_LIMIT,
    "NEWS_MAX_PAGES_PER_DOMAIN": NO_LIMIT,
    "NEWS_MAX_LINKS_PER_PAGE": NO_LIMIT,
    "NEWS_MAX_URL_LENGTH": NO_LIMIT,
    "URLLENGTH_LIMIT": NO_LIMIT,
    "NEWS_MAX_AGE_DAYS": NO_LIMIT,
    "NEWS_MIN_ARTICLE_CHARS": Limit(),
    "NEWS_EXTRACT_PROCESSES": Limit(zero="0 = extract in the crawl's own thread"),
    "RETRY_TIMES": Limit(zero="0 = no retry"),
    "REDIRECT_MAX_TIMES": Limit(zero="0 = follow no redirect"),
    "CONCURRENT_REQUESTS": AT_LEAST_ONE,
    "CONCURRENT_REQUESTS_PER_DOMAIN": AT_LEAST_ONE,
    "CONCURRENT_ITEMS": AT_LEAST_ONE,
    "DOWNLOAD_DELAY": Limit(),
    "DOWNLOAD_TIMEOUT": Limit(above=True),  # 0 would time every request out at once
    "DOWNLOAD_MAXSIZE": NO_LIMIT,
    "DOWNLOAD_WARNSIZE": Limit(zero="0 = never warn"),
    "AUTOTHROTTLE_START_DELAY": Limit(),
    "AUTOTHROTTLE_MAX_DELAY": Limit(),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": Limit(above=True),  # Scrapy turns AutoThrottle off
    "CLOSESPIDER_TIMEOUT": Limit(zero="0 = never"),
    "CLOSESPIDER_TIMEOUT_NO_ITEM": Limit(zero="0 = never"),
    "CLOSESPIDER_ITEMCOUNT": Limit(zero="0 = never"),
    "CLOSESPIDER_PAGECOUNT": Limit(zero="0 = never"),
    "CLOSESPIDER_ERRORCOUNT": Limit(zero="0 = never"),
    "CLOSESPIDER_PAGECOUNT_NO_ITEM": Limit(zero="0 = never"),
    "WARC_MAX_SIZE": NO_LIMIT,
    "WARC_MAX_AGE": NO_LIMIT,
    "TEXT_SHARD_MAX_RECORDS": NO_LIMIT,
    "SCRAPER_SLOT_MAX_ACTIVE_SIZE": AT_LEAST_ONE,
    "S3_MULTIPART_THRESHOLD": AT_LEAST_ONE,
    "S3_MULTIPART_CHUNKSIZE": AT_LEAST_ONE,
    "S3_MAX_CONCURRENCY": AT_LEAST_ONE,
    "S3_UPLOAD_WORKERS": AT_LEAST_ONE,
    "S3_UPLOAD_RETRIES": Limit(zero="0 = no retry"),
    "S3_RETRY_BACKOFF": Limit(),
    "REDIS_WORKER_TIMEOUT": Limit(above=True),  # a worker must live longer than no time
    "CORPUS_DEDUP_THRESHOLD": Limit(most=1),
    "CORPUS_DEDUP_NUM_PERM": AT_LEAST_ONE,
    "CORPUS_DEDUP_SHINGLE_WORDS": AT_LEAST_ONE,
}
# Numbers of the project module that are not limits: any value is meaningful.
FREE_NUMBERS = frozenset({"DEPTH_PRIORITY"})  # negative: depth-first (Scrapy's meaning)


def parse_log_level(value: Any) -> int | str:
    """A logging level as Python's logging takes it: a name in upper case, or a number."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if text.upper() in logging.getLevelNamesMapping():
        return text.upper()
    raise ValueError("not a log level: use DEBUG, INFO, WARNING, ERROR or CRITICAL")


def _read_as(name: str, default: Any) -> Callable[[Any], Any] | None:
    """How a setting's value is read: READ_AS, else by the type of the project module's
    default (bool, int, float; None: any value)."""
    if name in READ_AS:
        return READ_AS[name]
    for kind, parser in ((bool, parse_bool), (int, parse_int), (float, parse_float)):
        if type(default) is kind:
            return parser
    return None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# --- settings -----------------------------------------------------------------------------------


def project_module() -> ModuleType | None:
    """The project's settings module (SCRAPY_SETTINGS_MODULE, set by scrapy.cfg or Scrapyd)."""
    name = os.environ.get("SCRAPY_SETTINGS_MODULE")
    try:
        return import_module(name) if name else None
    except ImportError:
        return None


@cache
def _project_defaults(module: ModuleType) -> dict[str, Any]:
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def _scrapy_names() -> set[str]:
    return {name for name in dir(default_settings) if name.isupper()}


def unknown_settings(names: Iterable[str], project: Mapping[str, Any]) -> list[str]:
    """Problems with names carrying a project prefix that nothing defines."""
    known = _scrapy_names() | SCRAPY_REDIS_SETTINGS | set(project)
    ours = set(project) - _scrapy_names()
    prefixes = tuple({name.split("_")[0] + "_" for name in ours if "_" in name})
    problems = []
    for name in sorted(names):
        if name.startswith(prefixes) and name not in known:
            problems.append(f"unknown setting {name}{did_you_mean(name, known)}")
    return problems


def check_settings(settings: BaseSettings) -> None:
    """Raise SettingError for a likely typo or an unreadable value; write sizes, durations,
    numbers and booleans back as Python values (same priority) while settings are not frozen."""
    module = project_module()
    project = _project_defaults(module) if module is not None else {}
    problems = unknown_settings(settings, project)
    for name in sorted({*project, *READ_AS}):
        parser = _read_as(name, project.get(name))
        value = settings.get(name)
        if parser is None or value in (None, ""):
            continue
        limit = LIMITS.get(name)
        try:
            parsed = parser(value)
        except ValueError as exc:
            # `-1`, `-5s`: the range says more than "not a size" (and what 0 means)
            negative = limit is not None and _NEGATIVE.fullmatch(str(value))
            problem = limit.problem(-1) if limit is not None and negative else exc
            problems.append(f"setting {name}={value!r}: {problem}")
            continue
        number = isinstance(parsed, int | float) and not isinstance(parsed, bool)
        if limit is not None and number and (problem := limit.problem(parsed)) is not None:
            problems.append(f"setting {name}={value!r}: {problem}")
            continue
        if parsed != value and not settings.frozen:
            settings.set(name, parsed, priority=settings.getpriority(name) or 0)
    if problems:
        raise SettingError("; ".join(problems))


class StartupCheckAddon:
    """Checks the settings before Scrapy freezes them and builds any component from them."""

    def update_settings(self, settings: BaseSettings) -> None:
        check_settings(settings)


# --- spider arguments ---------------------------------------------------------------------------


def check_arguments(spider: str, known: Mapping[str, str], given: Iterable[str]) -> None:
    """Refuse `-a` names the spider does not know. Names starting with `_` pass: Scrapyd adds
    `_job` (and may add others) to every job's arguments."""
    problems = []
    for name in given:
        if name.startswith("_") or name in known:
            continue
        if name in SPIDER_ATTRIBUTE_SETTINGS:
            problems.append(f"-a {name}: use -s {SPIDER_ATTRIBUTE_SETTINGS[name]}=...")
        else:
            problems.append(f"unknown argument -a {name}{did_you_mean(name, known)}")
    if problems:
        names = ", ".join(known)
        raise ArgumentError(f"{'; '.join(problems)}; the {spider} spider takes: {names}")
