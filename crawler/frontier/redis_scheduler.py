"""The shared scheduler of a distributed crawl: scrapy-redis's, with per-crawl keys and an end.

scrapy-redis 0.9.1 (checked with Scrapy 2.19 and the spider's async `start()`) provides the
Redis request queue and dupefilter. This subclass adds what several workers of one crawl need:
- keys in the crawl's namespace (crawler.frontier.distributed.crawl_key), not `<spider>:requests`;
- the shared queue and dupefilter are never flushed when one worker closes (SCHEDULER_PERSIST
  and SCHEDULER_FLUSH_ON_START are ignored): the last worker to leave with the queue empty
  deletes the crawl's keys, and a worker joining a crawl that has no live worker and nothing
  queued clears what is left (a crawl whose workers all died), so an old dupefilter never
  stops a new crawl with the same REDIS_CRAWL_ID from fetching its seeds;
- a worker with nothing to do stays while another live worker has requests in flight (their
  pages may still yield links), polling the queue at the engine's heartbeat (5 s), and
  finishes once the queue is empty and no live worker is busy;
- stats without the `spider` argument that Scrapy 2.19 deprecates.

Every state change is one Lua script, so workers never see each other half-way.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.frontier.distributed import crawl_key, redis_client, worker_id, worker_timeout

logger = logging.getLogger(__name__)

# KEYS: queue, busy. ARGV: worker. The best request, and this worker marked busy at once.
POP = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0)
if #found == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('SADD', KEYS[2], ARGV[1])
return found[1]
"""
# KEYS: workers, queue, busy, dupefilter, crawl_delay. ARGV: worker, timeout.
# -> {live workers before this one, 1 if stale state was cleared}
JOIN = """
local now = tonumber(redis.call('TIME')[1])
local live = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local cleared = 0
if live == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  cleared = redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return {live, cleared}
"""
# KEYS: workers. ARGV: worker, timeout. -> live workers
HEARTBEAT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
# KEYS: workers, queue, busy. ARGV: worker. This worker is idle; 1 if work may still come:
# requests queued, or another live worker with requests in flight.
IDLE = """
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local now = tonumber(redis.call('TIME')[1])
for _, other in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local expiry = redis.call('ZSCORE', KEYS[1], other)
  if expiry and tonumber(expiry) > now then return 1 end
end
return 0
"""
# KEYS: workers, queue, busy, dupefilter, crawl_delay. ARGV: worker.
# -> 0 others still live, -1 requests left (kept to resume), 1 crawl's keys deleted
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
local now = tonumber(redis.call('TIME')[1])
if redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') > 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
return 1
"""


class SharedPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue (breadth-first with DEPTH_PRIORITY); a pop also marks the
    worker busy in the same script, so no other worker can see the queue empty and this worker
    idle while it holds the last request."""

    def __init__(self, server: Any, spider: Spider, key: str, busy_key: str, worker: str) -> None:
        super().__init__(server, spider, key.replace("%", "%%"))  # Base formats the key
        self.busy_key, self.worker = busy_key, worker
        self._pop = server.register_script(POP)

    def pop(self, timeout: int = 0) -> Request | None:
        data = self._pop(keys=[self.key, self.busy_key], args=[self.worker])
        return self._decode_request(data) if data else None


class RedisScheduler(Scheduler):
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        spider = crawler.spidercls.name if crawler.spidercls else "crawl"
        server = redis_client(settings)
        server.ping()  # fail at start-up, not at the first request
        self.keys = {
            name: crawl_key(settings, spider, name)
            for name in ("requests", "dupefilter", "workers", "busy", "crawl_delay")
        }
        super().__init__(
            server,
            persist=True,  # the last worker cleans up (LEAVE), never one that finishes early
            queue_key=self.keys["requests"],
            dupefilter=RFPDupeFilter(
                server, key=self.keys["dupefilter"], debug=settings.getbool("DUPEFILTER_DEBUG")
            ),
        )
        self.stats = crawler.stats
        self.worker = worker_id(settings)
        self.timeout = worker_timeout(settings)
        self.crawl_id = settings.get("REDIS_CRAWL_ID") or "default"
        self._join = server.register_script(JOIN)
        self._heartbeat_script = server.register_script(HEARTBEAT)
        self._idle = server.register_script(IDLE)
        self._leave = server.register_script(LEAVE)
        self._heartbeat = task.LoopingCall(self.heartbeat)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        return cls(crawler)

    def _crawl_keys(self) -> list[str]:
        k = self.keys
        return [k["workers"], k["requests"], k["busy"], k["dupefilter"], k["crawl_delay"]]

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = SharedPriorityQueue(
            self.server, spider, self.keys["requests"], self.keys["busy"], self.worker
        )
        live, cleared = self._join(keys=self._crawl_keys(), args=[self.worker, self.timeout])
        self.stats.set_value("distributed/crawl_id", self.crawl_id)
        self.stats.set_value("distributed/worker_id", self.worker)
        self.stats.set_value("distributed/workers_at_join", live + 1)
        logger.info(
            "distributed crawl %r: worker %s joined %d live worker(s); %d request(s) queued%s",
            self.crawl_id, self.worker, live, len(self.queue),
            "; cleared the state of an earlier crawl that had ended" if cleared else "",
        )  # fmt: skip
        self._heartbeat.start(max(self.timeout / 4, 1), now=False)

    def heartbeat(self) -> None:
        """Keep this worker's registration alive; a worker silent for REDIS_WORKER_TIMEOUT is
        taken as dead, so a killed worker cannot keep the others waiting."""
        try:
            self._heartbeat_script(keys=[self.keys["workers"]], args=[self.worker, self.timeout])
        except Exception as exc:  # a Redis hiccup must not stop the heartbeat loop
            logger.warning("distributed crawl heartbeat failed: %r", exc)

    def close(self, reason: str) -> None:
        if self._heartbeat.running:
            self._heartbeat.stop()
        outcome = self._leave(keys=self._crawl_keys(), args=[self.worker])
        logger.info(
            "distributed crawl %r: worker %s left (%s); %s",
            self.crawl_id, self.worker, reason,
            {
                0: "other workers are still running",
                -1: f"{len(self.queue)} request(s) stay queued for the next worker to resume",
                1: "it was the last worker: the crawl's queue and dupefilter were deleted",
            }[int(outcome)],
        )  # fmt: skip

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        """The engine asks only when this worker has nothing in flight: mark it idle, and keep
        it open while requests are queued or another live worker may still add some."""
        keys = [self.keys["workers"], self.keys["requests"], self.keys["busy"]]
        return bool(self._idle(keys=keys, args=[self.worker]))
