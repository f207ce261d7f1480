"""A page a server sent with `Content-Encoding: br` replays in the project's pywb as the page
(issue #24): whether the client accepts br or not, the body it gets, decoded by the
Content-Encoding pywb declares, is the HTML that was sent, for the rewritten (mp_) and the
original (id_) replay alike.

Real components only: a server on 127.0.0.1 that sends Brotli (tests/test_encodings.py), the
`scrapy crawl news` CLI, and pywb's `wb-manager` and `wayback` from .venv-pywb."""

from __future__ import annotations

import gzip
import subprocess
import urllib.request
import zlib
from collections.abc import Iterator
from urllib.error import HTTPError

import brotli
import pytest
from lxml import html as lxml_html

from tests.test_archive_tools import PYWB_BIN, captures, wayback
from tests.test_encodings import STORIES, EncodingSite, serve_stories
from tests.test_hostile import PARAGRAPH, crawl

pytestmark = pytest.mark.slow

BR_PATH = "/news/br-story/"
DECODE = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "identity": lambda body: body,
}


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(pywb base URL, the br page's URL as crawled)."""
    assert (PYWB_BIN / "wayback").exists(), "pywb missing: `make install-test` makes .venv-pywb"
    # pywb decodes br through warcio, and warcio only through brotlicffi (requirements/pywb.txt)
    known = subprocess.run(
        [PYWB_BIN / "python", "-c", "from warcio.bufferedreaders import BufferedReader as B; "
         "print(*sorted(B.DECOMPRESSORS))"], capture_output=True, text=True,
    )  # fmt: skip
    assert "br" in known.stdout.split(), f"pywb's warcio cannot decode br: {known}"
    tmp = tmp_path_factory.mktemp("brotli")
    with EncodingSite(honour_accept=False) as site:  # br sent although we never ask for it
        serve_stories(site)
        done = crawl(site, tmp, "-s", "NEWS_EXTRACT_PROCESSES=0")
        assert site.sent[BR_PATH][0] == "br"
        url = site.base + BR_PATH
    (tmp / "pywb").mkdir()
    with wayback(sorted((done.run_dir / "warc").glob("*.warc.gz")), tmp / "pywb") as base:
        yield base, url


def get(url: str, accept_encoding: str | None) -> tuple[int, str, bytes]:
    """(status, Content-Encoding, body as received): no client-side decoding."""
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            coding = response.headers.get("Content-Encoding") or "identity"
            return response.status, coding.strip().lower(), response.read()
    except HTTPError as exc:
        return exc.code, "identity", exc.read()


# (replay mode, the client's Accept-Encoding): rewritten and original replay, br accepted or not
CASES = [(mode, accept) for mode in ("mp_", "id_") for accept in ("br", "gzip, deflate, br",
                                                                  "gzip", None)]  # fmt: skip


def test_brotli_page_replays_as_its_html(replay: tuple[str, str]) -> None:
    base, url = replay
    (capture,) = captures(base, url)
    for mode, accept in CASES:  # one test: the crawl and pywb's start are most of its time
        case = f"{mode} with Accept-Encoding {accept!r}"
        status, coding, body = get(f"{base}/news/{capture['timestamp']}{mode}/{url}", accept)
        assert status == 200, (case, body[:300])
        allowed = {"identity", *(c.strip() for c in (accept or "").split(","))}
        assert coding in allowed, f"{case}: answered with {coding}"
        try:
            page = DECODE[coding](body).decode("utf-8")
        except UnicodeDecodeError:
            pytest.fail(f"{case}: the stored Brotli bytes were served as the page")
        text = " ".join(lxml_html.fromstring(page).text_content().split())
        assert STORIES[BR_PATH][1] in text, case
        assert PARAGRAPH.split(" to discuss")[0] in text, case
