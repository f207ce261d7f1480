"""Property-based tests (hypothesis): URL canonicalisation and the extraction entry point."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.discovery.documents import canonical
from crawler.discovery.seeds import check_url
from crawler.extract.extraction import extract

HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True)
# path characters a seed may carry: anything but separators, white space and controls
PATH_CHARS = st.characters(
    codec="utf-8", exclude_characters="/?#", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]
)
SEGMENTS = st.lists(st.text(PATH_CHARS, max_size=12), max_size=4)
PARAMS = st.lists(
    st.tuples(
        st.sampled_from(["id", "page", "utm_source", "utm_medium", "fbclid", "gclid", "q", "x"]),
        st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8),
    ),
    max_size=5,
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(HOSTS)
    path = "/" + "/".join(draw(SEGMENTS))
    query = "&".join(f"{k}={v}" for k, v in draw(PARAMS))
    fragment = draw(st.text(st.characters(codec="ascii", categories=["L"]), max_size=6))
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "") + (
        f"#{fragment}" if fragment else ""
    )


@given(urls())
@settings(max_examples=300, deadline=None)
def test_canonical_is_idempotent_and_drops_tracking(url: str) -> None:
    once = canonical(url)
    assert canonical(once) == once
    parts = urlsplit(once)
    assert parts.fragment == ""
    assert parts.scheme in ("http", "https") and parts.hostname == urlsplit(url).hostname
    keys = {pair.split("=")[0] for pair in parts.query.split("&") if pair}
    assert not keys & {"utm_source", "utm_medium", "fbclid", "gclid"}


@given(urls())
@settings(max_examples=200, deadline=None)
def test_valid_http_urls_are_accepted_as_seeds(url: str) -> None:
    checked = check_url(url)
    assert urlsplit(checked).scheme in ("http", "https")


@given(st.binary(max_size=4000) | st.text(max_size=3000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_extract_never_raises_on_arbitrary_input(data: bytes | str) -> None:
    result = extract(data, "https://news.example.org/story", fetched_at="2026-11-25T00:00:00Z")
    assert result.article is None or isinstance(result.article.text, str)


@given(st.lists(st.sampled_from(["<p>", "</p>", "<div>", "<article>", "<h1>", "<script>",
                                 "<!--", "&amp;", "\x00", "ä", "Text of the story. " * 5]),
                max_size=80))  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_extract_never_raises_on_tag_soup(pieces: list[str]) -> None:
    extract("<html><body>" + "".join(pieces), "https://news.example.org/story")
