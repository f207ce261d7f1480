"""The seen-store knows an article under every URL that led to it (redirect chain, final and
canonical URL), and a seed that is an article is stored again only when its text changed
(refetch=changed semantics), or always with refetch=all. Real crawls of a server on 127.0.0.1,
run after run into one archive."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import scrapy, text_records
from tests.test_hostile import GUARDED, HostileSite, Page, article, home, html, redirect


def run(site: HostileSite, archive: Path, run_id: str, seeds: str, *extra: str) -> dict:
    result = scrapy(
        "crawl", "news", "-a", "urls=" + ",".join(site.base + s for s in seeds.split(",")),
        "-s", f"ARCHIVE_URI={archive}", "-s", f"ARCHIVE_RUN_ID={run_id}", *GUARDED, *extra,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = text_records(archive / "news" / run_id)
    return {"stored": [urlsplit(r["url"]).path for r in records], "log": result.stderr}


def test_redirected_article_is_stored_once_over_two_runs(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with HostileSite() as site:
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        site.pages["/"] = home("/go/ferry-story")  # the link redirects, twice
        site.pages["/go/ferry-story"] = redirect("/news/2026/ferry-story-moved/", 301)
        site.pages["/news/2026/ferry-story-moved/"] = redirect("/news/2026/ferry-story/", 302)
        site.pages["/news/2026/ferry-story/"] = html(article("Ferry story"))
        site.pages["/news/good-story/"] = html(article("Good story"))
        first = run(site, archive, "run-1", "/")
        asked_before = list(site.requests)
        second = run(site, archive, "run-2", "/")
        asked_second = site.requests[len(asked_before) :]
    assert sorted(first["stored"]) == ["/news/2026/ferry-story/", "/news/good-story/"]
    assert second["stored"] == []  # nothing new
    assert "/go/ferry-story" not in asked_second  # the link is known as the article's URL
    assert "/news/2026/ferry-story/" not in asked_second


def test_seed_article_stored_again_only_when_changed(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    seed = "/news/2026/harbour-vote-result/"
    with HostileSite() as site:
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow:\n", "text/plain")
        site.pages[seed] = html(article("Harbour vote result"))
        first = run(site, archive, "run-1", seed)
        same = run(site, archive, "run-2", seed)
        site.pages[seed] = html(
            article(
                "Harbour vote result",
                extra="<p>Update: the board ordered a recount of the postal votes on Friday.</p>",
            )
        )
        changed = run(site, archive, "run-3", seed)
        again = run(site, archive, "run-4", seed, "-a", "refetch=all")
    assert first["stored"] == [seed]
    assert same["stored"] == []  # fetched (a seed), text unchanged: not stored again
    assert "'news/skipped/unchanged': 1" in same["log"]
    assert changed["stored"] == [seed]  # its text changed
    assert again["stored"] == [seed]  # refetch=all stores it whatever
