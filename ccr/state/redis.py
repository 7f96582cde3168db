"""The Redis store: shared state for several ccr instances on several machines.

Each primitive is one round trip (a pipeline or a short Lua script), so Redis stays the only
place where a decision is made and no two instances can both take the last slot. Keys are
prefixed (``ccr:`` by default) so one Redis can serve other programs too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ccr.state.base import Json, StateStore, now, window_start

#: Errors that mean "Redis is not there right now" (as opposed to a bug in a command).
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_ADD = """
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return total
"""


class RedisStore(StateStore):
    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "ccr:", timeout_s: float = 0.5,
                 clock: Callable[[], float] = now) -> None:
        self._prefix = prefix
        self._clock = clock
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry_on_timeout=False, decode_responses=True,
        )
        self._acquire_script = self._client.register_script(_ACQUIRE)
        self._add_script = self._client.register_script(_ADD)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def ping(self) -> None:
        await self._client.ping()

    async def start(self) -> None:
        """Connect once so a wrong URL shows at startup; a Redis that is down is not fatal."""
        await self._client.ping()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def hit(self, key: str, window_s: float, amount: int = 1) -> int:
        start = window_start(self._clock(), window_s)
        wkey = self._k(f"{key}@{start}")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incrby(wkey, amount)
            pipe.pexpireat(wkey, start + int(window_s * 1000))
            total, _ = await pipe.execute()
        return int(total)

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        t = self._clock()
        token = secrets.token_hex(8)
        taken = await self._acquire_script(
            keys=[self._k(key)],
            args=[t, limit, t + lease_s, token, max(int(lease_s * 1000), 1)],
        )
        return token if int(taken) == 1 else None

    async def release(self, key: str, token: str) -> None:
        await self._client.zrem(self._k(key), token)

    async def holders(self, key: str) -> int:
        return int(await self._client.zcount(self._k(key), f"({self._clock()}", "+inf"))

    async def get(self, key: str) -> Json | None:
        raw = await self._client.get(self._k(key))
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Json, ttl_s: float | None = None) -> None:
        px = max(int(ttl_s * 1000), 1) if ttl_s is not None else None
        await self._client.set(self._k(key), json.dumps(value, separators=(",", ":")), px=px)

    async def delete(self, key: str) -> None:
        await self._client.delete(self._k(key))

    async def add(self, key: str, amount: float, ttl_s: float | None = None) -> float:
        px = str(max(int(ttl_s * 1000), 1)) if ttl_s is not None else ""
        total = await self._add_script(keys=[self._k(key)], args=[repr(float(amount)), px])
        return float(total)

    async def add_many(self, items: list[tuple[str, float, float | None]]) -> None:
        if not items:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for key, amount, ttl_s in items:
                px = str(max(int(ttl_s * 1000), 1)) if ttl_s is not None else ""
                await self._add_script(keys=[self._k(key)], args=[repr(float(amount)), px],
                                       client=pipe)
            await pipe.execute()

    async def number(self, key: str) -> float:
        raw = await self._client.get(self._k(key))
        return _float(raw)

    async def numbers(self, keys: list[str]) -> list[float]:
        if not keys:
            return []
        raws = await self._client.mget([self._k(k) for k in keys])
        return [_float(raw) for raw in raws]


def _float(raw: Any) -> float:
    if raw is None:
        return 0.0
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0
