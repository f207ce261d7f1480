"""Start-up validation (crawler/control/startup.py): bad arguments and settings stop a run before it
fetches anything, with one line naming them; sizes and durations are read in human units."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.settings import Settings

import settings as project_module
from crawler.control.startup import (
    DURATION_SETTINGS,
    FREE_NUMBERS,
    LIMITS,
    SIZE_SETTINGS,
    ArgumentError,
    SettingError,
    check_arguments,
    check_settings,
    parse_duration,
    parse_log_level,
    parse_size,
    unknown_settings,
)
from crawler.discovery.documents import DateWindow, parse_iso_date
from crawler.spiders.news import NewsSpider
from tests.conftest import scrapy
from tests.test_hostile import HostileSite, Page, article, crawl, home, site  # noqa: F401

# --- parsers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1GiB", 2**30), ("512MiB", 512 * 2**20), ("1GB", 10**9), ("1.5 GiB", 3 * 2**29),
        ("100kB", 100_000), ("64 kib", 65_536), ("4096", 4096), (" 0 ", 0), ("12B", 12),
        (16 * 2**20, 16 * 2**20),
    ],
)  # fmt: skip
def test_sizes(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["1G", "lots", "-1", "1 GiB extra", "", "1e9", -5, "GiB"])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("24h", 86_400), ("1d", 86_400), ("1h30m", 5_400), ("1 h 30 m", 5_400), ("90s", 90),
        ("2.5", 2.5), ("0", 0), ("1.5h", 5_400), ("2w", 14 * 86_400), (3600, 3600),
    ],
)  # fmt: skip
def test_durations(value: object, expected: float) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["1x", "h", "", "-5", "24 hours", "1d and 2h", True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "expected", "is_day"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC), True),
        ("2026-11-01T06:00", datetime(2026, 11, 1, 6, tzinfo=UTC), False),
        ("2026-11-01T06:00Z", datetime(2026, 11, 1, 6, tzinfo=UTC), False),
        ("2026-11-01T07:00+01:00", datetime(2026, 11, 1, 6, tzinfo=UTC), False),
        ("2026-11-01 06:00:30", datetime(2026, 11, 1, 6, 0, 30, tzinfo=UTC), False),
    ],
)
def test_window_dates(value: str, expected: datetime, is_day: bool) -> None:
    assert parse_iso_date(value) == (expected, is_day)


@pytest.mark.parametrize("value", ["garbage", "2026-13-45", "2026-02-30", "1 Nov 2026", "2026-11"])
def test_bad_window_dates(value: str) -> None:
    with pytest.raises(ArgumentError, match=r"^-a since=.*: not a date"):
        DateWindow.build(value, None, max_age_days=30)
    with pytest.raises(ArgumentError, match=r"^-a until=.*: not a date"):
        DateWindow.build(None, value, max_age_days=0)


def test_window_bounds_in_order() -> None:
    with pytest.raises(ArgumentError, match="since=2026-11-10 is not before -a until=2026-11-01"):
        DateWindow.build("2026-11-10", "2026-11-01", max_age_days=30)
    with pytest.raises(ArgumentError, match="until=2020-01-01 is older than NEWS_MAX_AGE_DAYS=30"):
        DateWindow.build(None, "2020-01-01", max_age_days=30)
    one_day = DateWindow.build("2026-11-01", "2026-11-01", max_age_days=30)  # the whole day
    assert one_day.until - one_day.since == timedelta(days=1)
    offset = DateWindow.build("2026-11-01T06:00+02:00", None, max_age_days=30)
    assert offset.since == datetime(2026, 11, 1, 4, tzinfo=UTC)


# --- names and values ---------------------------------------------------------------------------


def test_spider_arguments_are_its_signature() -> None:
    """One list of -a names: the help printed from ARGUMENTS is what __init__ takes."""
    params = inspect.signature(NewsSpider.__init__).parameters
    named = [p for p in params if p not in ("self", "kwargs")]
    assert named == list(NewsSpider.ARGUMENTS)
    assert all(help_text and "\n" not in help_text for help_text in NewsSpider.ARGUMENTS.values())


def test_unknown_arguments() -> None:
    check_arguments("news", NewsSpider.ARGUMENTS, ["_job", "_version"])  # Scrapyd's
    with pytest.raises(ArgumentError) as raised:
        check_arguments("news", NewsSpider.ARGUMENTS, ["sinse", "user_agent"])
    message = str(raised.value)
    assert "unknown argument -a sinse (did you mean since?)" in message
    assert "-a user_agent: use -s USER_AGENT=..." in message
    assert message.endswith("the news spider takes: urls, seeds, since, until, refetch")


def test_unknown_settings_by_project_prefix() -> None:
    project = {"ARCHIVE_URI": "archive", "WARC_MAX_SIZE": 1, "REDIS_URL": "", "DEPTH_LIMIT": 3}
    given = [
        "ARCHIVE_URL", "WARC_MAXSIZE", "REDIS_HOST", "ARCHIVE_URI", "DEPTH_LIMT", "LOG_LEVEL",
    ]  # fmt: skip
    assert unknown_settings(given, project) == [
        "unknown setting ARCHIVE_URL (did you mean ARCHIVE_URI?)",
        "unknown setting WARC_MAXSIZE (did you mean WARC_MAX_SIZE?)",
    ]  # REDIS_HOST is scrapy-redis's; DEPTH_ is Scrapy's prefix, not one of ours


@pytest.fixture
def project_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "settings")
    settings = Settings()
    settings.setmodule("settings", priority="project")
    return settings


def test_settings_normalised_in_place(project_settings: Settings) -> None:
    given = {
        "WARC_MAX_SIZE": "1.5 GiB", "DOWNLOAD_MAXSIZE": "100kB", "WARC_MAX_AGE": "1d",
        "NEWS_MAX_AGE_DAYS": "0.5", "WARC_DEDUP": "false", "S3_UPLOAD_WORKERS": "3",
    }  # fmt: skip
    project_settings.setdict(given, priority="cmdline")
    check_settings(project_settings)
    assert {name: project_settings[name] for name in given} == {
        "WARC_MAX_SIZE": 3 * 2**29, "DOWNLOAD_MAXSIZE": 100_000, "WARC_MAX_AGE": 86_400,
        "NEWS_MAX_AGE_DAYS": 0.5, "WARC_DEDUP": False, "S3_UPLOAD_WORKERS": 3,
    }  # fmt: skip
    assert project_settings.getpriority("WARC_MAX_SIZE") == 40  # still the command line's
    check_settings(project_settings)  # idempotent: the spider and the add-on both run it


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWS_MAX_AGE_DAYS", "abc", "setting NEWS_MAX_AGE_DAYS='abc': not a number"),
        ("NEWS_MIN_ARTICLE_CHARS", "2.5", "setting NEWS_MIN_ARTICLE_CHARS='2.5': not a whole"),
        ("NEWS_EXTRACT_PROCESSES", "all", "setting NEWS_EXTRACT_PROCESSES='all': not a whole"),
        ("CORPUS_DEDUP_THRESHOLD", "high", "setting CORPUS_DEDUP_THRESHOLD='high': not a num"),
        ("WACZ_ENABLED", "yes", "setting WACZ_ENABLED='yes': Supported values for boolean"),
        ("S3_MULTIPART_CHUNKSIZE", "64M", "setting S3_MULTIPART_CHUNKSIZE='64M': not a size"),
        ("REDIS_WORKER_TIMEOUT", "1 minute", "setting REDIS_WORKER_TIMEOUT='1 minute': not a du"),
    ],
)
def test_bad_setting_values(
    project_settings: Settings, name: str, value: str, message: str
) -> None:
    project_settings.set(name, value, priority="cmdline")
    with pytest.raises(SettingError, match="^" + message):
        check_settings(project_settings)


# --- limits and counts (#21: a negative one emptied the crawl, exit 0) ---------------------------


def test_every_number_setting_has_its_range() -> None:
    """A number added to settings.py must say its range here (or that it has none)."""
    numbers = {
        name for name in dir(project_module)
        if name.isupper() and type(getattr(project_module, name)) in (int, float)
    }  # fmt: skip
    assert numbers - FREE_NUMBERS - set(LIMITS) == set()
    assert set(SIZE_SETTINGS) | set(DURATION_SETTINGS) <= set(LIMITS)


def below(name: str) -> str:
    """The largest whole value out of `name`'s range from below."""
    limit = LIMITS[name]
    return str(int(limit.least) if limit.above else int(limit.least) - 1)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_limit_refuses_values_out_of_range(project_settings: Settings, name: str) -> None:
    limit = LIMITS[name]
    project_settings.set(name, below(name), priority="cmdline")
    with pytest.raises(SettingError, match=f"^setting {name}='{below(name)}': ") as raised:
        check_settings(project_settings)
    if limit.zero:  # what 0 means is said where 0 is allowed
        assert f"({limit.zero})" in str(raised.value)
    if limit.most is not None:
        project_settings.set(name, str(limit.most + 1), priority="cmdline")
        with pytest.raises(SettingError, match=f"^setting {name}=.*: must be from "):
            check_settings(project_settings)
    smallest = limit.least + (0.5 if limit.above else 0)
    fine = str(int(smallest) if float(smallest).is_integer() else smallest)
    if name not in SIZE_SETTINGS:  # a size is whole bytes: 0.5 is not one
        project_settings.set(name, fine, priority="cmdline")
        check_settings(project_settings)  # the edge of the range is accepted


@pytest.mark.parametrize(
    ("value", "expected"),
    [("INFO", "INFO"), ("debug", "DEBUG"), (" Warning ", "WARNING"), ("10", 10), (20, 20)],
)
def test_log_levels(value: object, expected: object) -> None:
    assert parse_log_level(value) == expected


@pytest.mark.parametrize("value", ["VERBOSE", "", "-1", "info!", True])
def test_bad_log_levels(value: object) -> None:
    with pytest.raises(ValueError, match="not a log level: use DEBUG, INFO, WARNING, ERROR or"):
        parse_log_level(value)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("NEWS_MAX_PAGES_PER_DOMAIN=-1", "NEWS_MAX_PAGES_PER_DOMAIN='-1': must be 0 or more (0 = "),
        ("NEWS_MAX_LINKS_PER_PAGE=-1", "NEWS_MAX_LINKS_PER_PAGE='-1': must be 0 or more (0 = no"),
        ("DEPTH_LIMIT=-1", "DEPTH_LIMIT='-1': must be 0 or more (0 = no limit)"),
        ("CONCURRENT_REQUESTS=0", "CONCURRENT_REQUESTS='0': must be 1 or more"),
        ("CLOSESPIDER_ITEMCOUNT=-5", "CLOSESPIDER_ITEMCOUNT='-5': must be 0 or more (0 = never)"),
        ("LOG_LEVEL=VERBOSE", "LOG_LEVEL='VERBOSE': not a log level: use DEBUG, INFO, WARNING"),
    ],
)
def test_cli_refuses_a_limit_out_of_range_in_one_line(
    site: HostileSite,  # noqa: F811
    tmp_path: Path,
    setting: str,
    message: str,
) -> None:
    """Each used to run and store nothing with exit 0 (LOG_LEVEL: a traceback, exit 1)."""
    site.pages["/"] = home()
    archive = tmp_path / "archive"
    result = scrapy(
        "crawl", "news", "-a", f"urls={site.base}/", "-s", setting,
        "-s", f"ARCHIVE_URI={archive}", "-s", "NEWS_ALLOWED_NETWORKS=127.0.0.1/32", timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.rstrip("\n").splitlines()[-1]  # the one line, last
    assert last.startswith(f"scrapy crawl: error: setting {message}"), result.stderr[-3000:]
    assert site.requests == [] and not archive.exists()


# --- through the real CLI -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-a", "since=garbage"], "-a since='garbage': not a date"),
        (["-a", "since=2026-13-45"], "-a since='2026-13-45': not a date"),
        (["-a", "since=2026-11-10", "-a", "until=2026-11-01"], "-a since=2026-11-10 is not befo"),
        (["-a", "url=http://127.0.0.1:9/"], "unknown argument -a url (did you mean urls?)"),
        (["-s", "ARCHIVE_URL=s3://bucket/news"], "unknown setting ARCHIVE_URL (did you mean ARCH"),
        (["-s", "WARC_MAX_SIZE=1 G"], "setting WARC_MAX_SIZE='1 G': not a size"),
        (["-s", "NEWS_MAX_AGE_DAYS=abc"], "setting NEWS_MAX_AGE_DAYS='abc': not a number"),
    ],
)
def test_cli_refuses_bad_input_before_fetching(
    tmp_path: Path, args: list[str], message: str
) -> None:
    archive = tmp_path / "archive"
    seed = "urls=http://127.0.0.1:9/"
    result = scrapy("crawl", "news", "-a", seed, *args, "-s", f"ARCHIVE_URI={archive}", timeout=60)
    assert result.returncode != 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if message in line]
    assert lines, result.stderr[-3000:]
    assert not archive.exists()  # stopped before any extension wrote the archive


def test_cli_reads_human_sizes_and_durations(site: HostileSite, tmp_path: Path) -> None:  # noqa: F811
    """Human units reach the components as numbers: a 1 KiB WARC limit rotates after each
    record, a 100 kB download limit drops the big page; Scrapyd's `_job` argument passes."""
    big = article("A very long page", extra="<p>" + "word " * 30_000 + "</p>").encode()
    assert len(big) > 100_000
    site.pages["/"] = home("/big/")
    site.pages["/big/"] = Page(big)
    done = crawl(
        site, tmp_path, "-a", "_job=abc123",
        "-s", "WARC_MAX_SIZE=1KiB", "-s", "DOWNLOAD_MAXSIZE=100kB", "-s", "WARC_MAX_AGE=1d",
        "-s", "CLOSESPIDER_TIMEOUT=2m",
        scrapy_errors=(site.base + "/big/",),
    )  # fmt: skip
    assert done.stored() == {"/news/good-story/"}
    assert "larger than download max size (100000)" in done.log
    assert len(list((done.run_dir / "warc").glob("*.warc.gz"))) >= 3  # robots, home, story
    manifest = json.loads((done.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {k: manifest["settings"][k] for k in ("WARC_MAX_SIZE", "DOWNLOAD_MAXSIZE")} == {
        "WARC_MAX_SIZE": 1024, "DOWNLOAD_MAXSIZE": 100_000,
    }  # fmt: skip
    assert manifest["settings"]["WARC_MAX_AGE"] == 86_400
    assert manifest["settings"]["CLOSESPIDER_TIMEOUT"] == 120
