"""The seen-store in Redis, for distributed crawls (REDIS_URL): crawler.frontier.seen.Seen's
interface, shared by every worker and kept across crawls, under `<prefix>:seen:<spider>:`:

    articles    hash: canonical URL -> JSON {run_id, last_seen, etag, last_modified, text_digest}
    first_seen  hash: canonical URL -> when a run first stored it (HSETNX: the first wins)
    validators  hash: feed or sitemap URL -> JSON {etag, last_modified, checked, children}

Each call is one command or one MULTI/EXEC transaction: a mark by one worker is seen by all
the others at once, and never half-written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.settings import BaseSettings

from crawler.frontier.distributed import redis_client, seen_key

if TYPE_CHECKING:
    from redis import Redis


def _now() -> str:
    return datetime.now(UTC).isoformat()


class RedisSeenStore:
    def __init__(self, server: Redis, settings: BaseSettings, spider: str) -> None:
        self.server = server
        self.articles = seen_key(settings, spider, "articles")
        self.first_seen = seen_key(settings, spider, "first_seen")
        self.validator_key = seen_key(settings, spider, "validators")

    @classmethod
    def from_settings(cls, settings: BaseSettings, spider: str) -> RedisSeenStore:
        return cls(redis_client(settings), settings, spider)

    def has_article(self, url: str) -> bool:
        return bool(self.server.hexists(self.articles, url))

    def seen_articles(self, urls: list[str]) -> set[str]:
        """One round trip for all of them (a pipeline of HEXISTS: the articles are a hash,
        which has no multi-field membership command)."""
        if not urls:
            return set()
        with self.server.pipeline(transaction=False) as pipe:
            for url in urls:
                pipe.hexists(self.articles, url)
            answers = pipe.execute()
        return {url for url, seen in zip(urls, answers, strict=True) if seen}

    def article_validators(self, url: str) -> tuple[str | None, str | None]:
        raw = self.server.hget(self.articles, url)
        if not raw:
            return None, None
        entry = json.loads(raw)
        return entry.get("etag"), entry.get("last_modified")

    def article_text_digest(self, url: str) -> str | None:
        raw = self.server.hget(self.articles, url)
        return json.loads(raw).get("text_digest") if raw else None

    def mark_article(
        self,
        url: str,
        run_id: str,
        etag: str | None = None,
        last_modified: str | None = None,
        text_digest: str | None = None,
    ) -> None:
        now = _now()
        entry = {
            "run_id": run_id,
            "last_seen": now,
            "etag": etag,
            "last_modified": last_modified,
            "text_digest": text_digest,
        }
        with self.server.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.first_seen, url, now)
            pipe.hset(self.articles, url, json.dumps(entry))
            pipe.execute()

    def _validator_entry(self, url: str) -> dict[str, Any]:
        raw = self.server.hget(self.validator_key, url)
        return json.loads(raw) if raw else {}

    def validators(self, url: str) -> tuple[str | None, str | None]:
        entry = self._validator_entry(url)
        return entry.get("etag"), entry.get("last_modified")

    def save_validators(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        children: list[str] | None = None,
    ) -> None:
        if not etag and not last_modified:
            return
        entry = {
            "etag": etag,
            "last_modified": last_modified,
            "checked": _now(),
            "children": children or None,
        }
        self.server.hset(self.validator_key, url, json.dumps(entry))

    def children(self, url: str) -> list[str]:
        """Child sitemaps a sitemap index listed when it was last fetched (see SeenStore)."""
        return self._validator_entry(url).get("children") or []

    def count_articles(self) -> int:
        return int(self.server.hlen(self.articles))

    # Workers of a distributed crawl start and stop on their own, each with its run folder on
    # its own disk: one worker cannot tell another's killed run from a live one. A killed
    # worker's articles are marked by its own next start's crash repair (the repaired shards).
    def open_run(self, run_id: str) -> None:
        return None

    def close_run(self, run_id: str) -> None:
        return None

    def unclosed_runs(self) -> list[str]:
        return []

    def close(self) -> None:
        self.server.close()
