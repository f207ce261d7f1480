"""Seed input: `-a urls=...` and `-a seeds=PATH` (a seed file or a folder of them).

A seed file has one URL a line; `#` starts a comment (whole line or after the URL), blank
lines are ignored. A bad line is reported with its file and line number and skipped.

A seed with credentials (`http://user:password@host/`) stops the run at start-up instead
(SeedCredentials, exit 2), and the message shows the URL without them. The crawler sends no
credentials, so such a seed could not be fetched anyway, and skipping it would still have
written the password into the log (and before this check, into the manifest and the dataset
card): whoever wrote it meant a password-protected crawl, which this crawler does not do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import safe_url_string

from crawler.control.startup import ArgumentError

ALLOWED_SCHEMES = frozenset({"http", "https"})
SEED_FILE_SUFFIXES = (".txt", ".seeds", ".lst")


@dataclass(frozen=True)
class Seed:
    url: str
    source: str  # "file:line" or "urls[i]", for messages that name the input


@dataclass(frozen=True)
class SeedError:
    source: str
    line: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}: {self.line!r}"


class SeedCredentials(ArgumentError):
    """A seed URL carries `user:password@`: refused for the whole run, never echoed."""


def without_userinfo(raw: str) -> str:
    """`raw` with `user:password@` shown as `***@` (for messages: never the credentials)."""
    parts = urlsplit(raw)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def check_url(raw: str) -> str:
    """The URL in canonical ASCII form, or ValueError saying why it is not a crawlable seed
    (SeedCredentials when it holds credentials)."""
    if "://" not in raw:
        raise ValueError("not an absolute URL (missing scheme://)")
    if any(ch.isspace() for ch in raw):
        raise ValueError("URL contains white space")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError(f"unsupported scheme {scheme!r} (only http and https are crawled)")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError as exc:
        if "@" in raw:  # `user:pa/ss@host`: a password that split the URL; echo none of it
            raise SeedCredentials(
                f"a seed URL with user:password@ is refused (and this one is malformed): "
                f"{scheme}://***"
            ) from None
        raise ValueError(f"malformed host or port ({exc})") from None
    if not host:
        raise ValueError("URL has no host")
    if "@" in parts.netloc:  # userinfo, even an empty one: `http://@host/` is still refused
        raise SeedCredentials(
            f"a seed URL with user:password@ is refused (credentials are never sent, stored or "
            f"logged; this crawler fetches public pages only): {without_userinfo(raw)}"
        )
    return web_form(raw)


def web_form(raw: str) -> str:
    """`raw` as the URL standard serialises it: percent-encoded ASCII, and an empty path made
    `/` (as browsers send it, and as w3lib >= 2.6 writes it; done here so every w3lib gives
    the same seed URL, in the frontier and in the archive)."""
    safe = urlsplit(safe_url_string(raw))
    return urlunsplit(safe._replace(path=safe.path or "/"))


def parse_lines(lines: Iterable[bytes], source: str) -> Iterator[Seed | SeedError]:
    """Seeds and errors from the lines of one seed file, in order."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield SeedError(
                f"{source}:{number}",
                raw.decode("utf-8", "replace").strip(),
                f"not UTF-8 ({exc.reason} at byte {exc.start})",
            )
            continue
        text = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        yield seed_or_error(text, f"{source}:{number}")


def seed_or_error(text: str, where: str) -> Seed | SeedError:
    try:
        return Seed(check_url(text), where)
    except SeedCredentials as exc:  # the whole run stops: see the module's docstring
        raise SeedCredentials(f"{where}: {exc}") from None
    except ValueError as exc:
        return SeedError(where, text, str(exc))


def seed_files(path: Path) -> list[Path]:
    """The seed files a PATH names: the file itself, or a folder's seed files, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SEED_FILE_SUFFIXES)
    return [path]


def read_seeds(path: str | Path) -> Iterator[Seed | SeedError]:
    """Seeds and errors from a seed file, or from every seed file in a folder (sorted)."""
    path = Path(path)
    if not path.exists():
        yield SeedError(str(path), str(path), "seed path does not exist")
        return
    files = seed_files(path)
    if not files:
        yield SeedError(str(path), str(path), "folder holds no seed files (*.txt)")
        return
    lines = 0  # seeds and bad lines read
    for file in files:
        try:
            with file.open("rb") as handle:
                for found in parse_lines(handle, str(file)):
                    lines += 1
                    yield found
        except OSError as exc:
            lines += 1
            yield SeedError(str(file), str(file), f"cannot read seed file ({exc})")
    if not lines:  # only comments and blank lines: say so rather than "no URL given"
        names = ", ".join(str(f) for f in files)
        yield SeedError(str(path), str(path), f"no URL in {names} (only comments or blank lines)")


def split_urls(value: str) -> Iterator[Seed | SeedError]:
    """Seeds from the comma-separated `-a urls=` argument."""
    for index, raw in enumerate(u.strip() for u in value.split(",")):
        if raw:
            yield seed_or_error(raw, f"urls[{index}]")
