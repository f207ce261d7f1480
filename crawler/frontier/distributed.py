"""Distributed crawling: several `scrapy crawl news` workers share one crawl through Redis.

Off unless `REDIS_URL` is set; then (README, "Distributed crawling"):
- the scheduler queue and the dupefilter are scrapy-redis's, shared by every worker
  (crawler/frontier/redis_scheduler.py): each URL is fetched once by whichever worker pops it;
- the seen-store lives in Redis (crawler/frontier/seen_redis.py), kept across crawls;
- each worker writes its own run (`<spider>/<run_id>/`) under the shared ARCHIVE_URI, and its
  file names carry the worker id, so nothing two workers write can collide.

Redis keys, all below REDIS_KEY_PREFIX (`<p>`):
    <p>:crawl:<REDIS_CRAWL_ID>:<spider>:requests     the shared request queue (sorted set)
    <p>:crawl:<REDIS_CRAWL_ID>:<spider>:dupefilter   fingerprints of every request scheduled
    <p>:crawl:<REDIS_CRAWL_ID>:<spider>:workers      live workers: id -> expiry (heartbeat)
    <p>:crawl:<REDIS_CRAWL_ID>:<spider>:busy         workers with requests in flight
    <p>:crawl:<REDIS_CRAWL_ID>:<spider>:crawl_delay  robots.txt Crawl-delay by host
    <p>:seen:<spider>:*                              the seen-store (outlives crawls)
    <p>:run:<spider>:<run_id>                        lock: one live worker per run id
The last worker to leave a crawl whose queue is empty deletes the crawl's keys, so the next
crawl with the same REDIS_CRAWL_ID starts afresh; a crawl stopped with requests still queued
keeps them, and the next workers with that id resume it.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from scrapy.settings import BaseSettings

if TYPE_CHECKING:
    from redis import Redis

SCHEDULER = "crawler.frontier.redis_scheduler.RedisScheduler"


def redis_enabled(settings: BaseSettings) -> bool:
    return bool(settings.get("REDIS_URL"))


def redis_client(settings: BaseSettings) -> Redis:
    """A client for REDIS_URL with scrapy-redis's connection defaults (timeouts, retries)."""
    from scrapy_redis.connection import get_redis_from_settings

    return get_redis_from_settings(settings)


def worker_id(settings: BaseSettings) -> str:
    """This worker's name: WORKER_ID, else `<host>-<pid>` (unique among live processes)."""
    return settings.get("WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"


def file_name_tag(settings: BaseSettings) -> str | None:
    """What archive file names add to stay unique per worker: the worker id when distributed,
    None otherwise (single-process names are unchanged)."""
    return worker_id(settings) if redis_enabled(settings) else None


def worker_timeout(settings: BaseSettings) -> int:
    return max(settings.getint("REDIS_WORKER_TIMEOUT", 60), 3)


def _prefix(settings: BaseSettings) -> str:
    return settings.get("REDIS_KEY_PREFIX") or "newsarchiver"


def crawl_key(settings: BaseSettings, spider: str, name: str) -> str:
    """A key of the current distributed crawl (queue, dupefilter, workers, ...)."""
    crawl_id = settings.get("REDIS_CRAWL_ID") or "default"
    return f"{_prefix(settings)}:crawl:{crawl_id}:{spider}:{name}"


def seen_key(settings: BaseSettings, spider: str, name: str) -> str:
    """A key of the seen-store: per prefix (archive) and spider, not per crawl."""
    return f"{_prefix(settings)}:seen:{spider}:{name}"


def run_lock_key(settings: BaseSettings, spider: str, run_id: str) -> str:
    return f"{_prefix(settings)}:run:{spider}:{run_id}"
