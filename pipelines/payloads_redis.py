"""The payload-digest index in Redis, for distributed crawls (REDIS_URL): PayloadIndex's
interface, shared by every worker and kept across crawls, under `<prefix>:seen:<spider>:`:

    payloads          hash: payload digest -> JSON Original (the first capture; HSETNX wins)
    payload_runs      hash: run id -> payloads it added (the runs the index holds)
    pending:<run_id>  hash: this run's payloads, until it closes cleanly (expires if killed)

So a payload one worker archived becomes a revisit record in every other worker's later runs,
as on one machine with `.state/<spider>-payloads.sqlite`. A run's payloads join the shared hash
only when it closes cleanly: a killed run's records may have been cut by repair, and join later
through its repaired CDXJ, which any worker that can read the run's folder loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.settings import BaseSettings

from crawler.frontier.distributed import redis_client, seen_key
from pipelines.index import CDXJ_NAME
from pipelines.payload_originals import Original, run_originals

if TYPE_CHECKING:
    from redis import Redis

PENDING_TTL = 7 * 24 * 3600  # seconds a killed run's pending payloads are kept (never joined)


def _encode(original: Original) -> str:
    return json.dumps(asdict(original), separators=(",", ":"))


class RedisPayloadIndex:
    def __init__(self, server: Redis, settings: BaseSettings, spider: str, run_id: str) -> None:
        self.server = server
        self.payloads = seen_key(settings, spider, "payloads")
        self.runs = seen_key(settings, spider, "payload_runs")
        self.pending = seen_key(settings, spider, f"pending:{run_id}")
        self.loaded_runs = 0

    @classmethod
    def from_settings(cls, settings: BaseSettings, spider: str, run_id: str) -> RedisPayloadIndex:
        return cls(redis_client(settings), settings, spider, run_id)

    def __len__(self) -> int:
        return int(self.server.hlen(self.payloads)) + int(self.server.hlen(self.pending))

    def __contains__(self, digest: str) -> bool:
        return bool(self.server.hexists(self.payloads, digest))

    def get(self, digest: str) -> Original | None:
        with self.server.pipeline(transaction=False) as pipe:
            pipe.hget(self.payloads, digest)
            pipe.hget(self.pending, digest)
            shared, own = pipe.execute()
        raw = shared or own
        return Original(**json.loads(raw)) if raw else None

    def add(self, digest: str, original: Original) -> None:
        """This run's first capture of a payload no index entry had (the caller asked `get`)."""
        with self.server.pipeline(transaction=False) as pipe:
            pipe.hsetnx(self.pending, digest, _encode(original))
            pipe.expire(self.pending, PENDING_TTL)
            pipe.execute()

    def known_runs(self) -> set[str]:
        return {r.decode() if isinstance(r, bytes) else r for r in self.server.hkeys(self.runs)}

    def sync(self, run_dirs: list[Path], current: str) -> None:
        """Load the runs this worker can read that no worker has loaded yet. Runs whose folder
        is gone are not forgotten here: another worker may see folders this one cannot."""
        known = self.known_runs()
        for run_dir in run_dirs:
            if run_dir.name != current and run_dir.name not in known:
                self.load_run(run_dir)

    def load_run(self, run_dir: Path) -> None:
        """As PayloadIndex.load_run: a run without a CDXJ yet is left for later."""
        if not (run_dir / "indexes" / CDXJ_NAME).is_file():
            return
        added = 0
        with self.server.pipeline(transaction=True) as pipe:
            for digest, at in run_originals(run_dir, self.__contains__):
                pipe.hsetnx(self.payloads, digest, _encode(at))
                added += 1
            pipe.hset(self.runs, run_dir.name, added)
            pipe.execute()
        self.loaded_runs += 1

    def commit_run(self, run_id: str) -> None:
        """This run closed cleanly: its payloads join the shared index (the first capture of a
        payload wins, whichever worker wrote it), and the run counts as held."""
        pending = self.server.hgetall(self.pending)
        with self.server.pipeline(transaction=True) as pipe:
            for digest, raw in pending.items():
                pipe.hsetnx(self.payloads, digest, raw)
            pipe.hset(self.runs, run_id, len(pending))
            pipe.delete(self.pending)
            pipe.execute()

    def close(self) -> None:
        self.server.close()
