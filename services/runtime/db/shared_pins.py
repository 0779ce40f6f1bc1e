"""Read-your-writes pins kept in Redis, so that every replica of a service honours them.

A caller who wrote through one process may read through another (Envoy spreads calls over a
service's replicas). The writing process sets a key that expires with the pin; a process about
to read from a database replica asks for it first (one ``EXISTS``, only where a replica is
configured and the caller holds no pin of its own there).

When Redis does not answer within its short timeout the read goes to the primary, which is
always right, only busier; a pin that could not be stored leaves that window to the local pin
alone (logged once per outage): the write itself has committed and is not failed for it.
"""

from __future__ import annotations

import logging

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger("tenantmesh.db.replicas")

# A read waits at most this long for Redis before it goes to the primary.
TIMEOUT_SECONDS = 0.1


class RedisPins:
    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self._redis = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._failing = False

    async def add(self, key: str, seconds: float) -> None:
        try:
            await self._redis.set(key, b"1", px=max(1, round(seconds * 1000)))
        except (RedisError, OSError):
            self._failed("storing a read-your-writes pin failed: other replicas may read from the database replica")
            return
        self._failing = False

    async def holds(self, key: str) -> bool:
        try:
            held = bool(await self._redis.exists(key))
        except (RedisError, OSError):
            self._failed("Redis unreachable: reads of read-only calls go to the primary")
            return True
        self._failing = False
        return held

    async def close(self) -> None:
        await self._redis.aclose()

    def _failed(self, message: str) -> None:
        if not self._failing:
            log.warning(message, exc_info=True)
        self._failing = True
