"""Fixtures for the event bus tests: a bus factory for each implementation, real Redis, bounded waits.

Redis tests use the server at ``MSCC_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) and a fresh
stream per test, deleted afterwards. Without Redis they are skipped locally, but fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from command_center.events.bus import EventBus
from command_center.events.memory import MemoryBus
from command_center.events.redis_bus import RedisBus

REDIS_URL = os.environ.get("MSCC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLAIM_IDLE_MS = 200
REDELIVERY_DELAY_S = 0.05

Predicate = Callable[[], bool | Awaitable[bool]]
Eventually = Callable[..., Awaitable[None]]


async def _eventually(predicate: Predicate, *, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds (generous: the CI box is shared)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def eventually() -> Eventually:
    """``await eventually(lambda: ..., what="...")``: a bounded wait instead of a fixed sleep."""
    return _eventually


def metric(name: str, **labels: str) -> float:
    """Current value of a bus counter (they are process-wide; tests use unique group names)."""
    return REGISTRY.get_sample_value(f"mscc_bus_{name}_total", labels) or 0.0


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (locally) or fails (CI=true) when the server does not answer."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {REDIS_URL} ({exc}); start it with `redis-server --daemonize yes`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A raw client for looking behind the bus (XPENDING, XLEN, manual XREADGROUP)."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def redis_stream(redis_url: str) -> Iterator[str]:
    """A unique stream name; the stream, its dead-letter stream and its de-dup keys are deleted after.

    Synchronous on purpose: the async ``harness`` fixture can only pull in sync fixtures by name.
    """
    stream = f"test:{uuid.uuid4().hex}"
    yield stream
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{stream}:seen:*", count=1000))
    client.delete(stream, f"{stream}:dead", *keys)
    client.close()


class BusHarness:
    """Builds buses of one kind with fast retry settings and closes them at the end of the test."""

    def __init__(self, kind: str, *, redis_url: str | None = None, stream: str | None = None) -> None:
        self.kind = kind
        self.redis_url = redis_url
        self.stream = stream
        self.buses: list[EventBus] = []

    def make(self, *, max_deliveries: int = 3, **options: Any) -> EventBus:
        """A new, not yet started bus; Redis buses of one test share one stream."""
        bus: EventBus
        if self.kind == "memory":
            options.setdefault("redelivery_delay_s", REDELIVERY_DELAY_S)
            bus = MemoryBus(max_deliveries=max_deliveries, close_timeout_s=1.0, **options)
        else:
            assert self.redis_url is not None and self.stream is not None
            options.setdefault("claim_idle_ms", CLAIM_IDLE_MS)
            options.setdefault("close_timeout_s", 1.0)
            bus = RedisBus(
                self.redis_url, self.stream, max_deliveries=max_deliveries, block_ms=100, **options
            )
        self.buses.append(bus)
        return bus

    async def pending(self, group: str) -> int:
        """Entries delivered to ``group`` but not acknowledged (always 0 for the memory bus)."""
        if self.kind == "memory":
            return 0
        async with aioredis.Redis.from_url(self.redis_url or "", decode_responses=True) as client:
            info: dict[str, Any] = await client.xpending(self.stream or "", group)
            return int(info["pending"])

    async def dead_letters(self) -> int:
        """How many events the buses of this test have dead-lettered."""
        if self.kind == "memory":
            return sum(len(bus.dead_letters) for bus in self.buses if isinstance(bus, MemoryBus))
        async with aioredis.Redis.from_url(self.redis_url or "", decode_responses=True) as client:
            return int(await client.xlen(f"{self.stream}:dead"))

    async def close(self) -> None:
        """Close every bus made here."""
        await asyncio.gather(*(bus.close() for bus in self.buses))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[BusHarness]:
    """One :class:`BusHarness` per bus implementation: the contract tests run against both."""
    if request.param == "memory":
        made = BusHarness("memory")
    else:
        url = request.getfixturevalue("redis_url")
        made = BusHarness("redis", redis_url=url, stream=request.getfixturevalue("redis_stream"))
    yield made
    await made.close()
