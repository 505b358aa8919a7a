"""Camera leases on the real Redis: two workers split 20 cameras, a dead worker's cameras move to the
other within the TTL, a clean stop hands over at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from stream_ingest.leases import RedisLeases
from tests.services import unavailable

CAMERAS = [f"cam{i}" for i in range(20)]


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except (aioredis.RedisError, OSError):
        unavailable("Redis at 127.0.0.1:6379")
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:ingest:{uuid.uuid4().hex}"


async def settle(*workers: RedisLeases, cycles: int = 6) -> list[set[str]]:
    held: list[set[str]] = []
    for _ in range(cycles):
        held = [await w.assign(CAMERAS) for w in workers]
    return held


async def test_two_workers_split_twenty_cameras(redis_client: aioredis.Redis, prefix: str) -> None:
    a = RedisLeases(redis_client, ttl_s=5, prefix=prefix, worker_id="a")
    assert await a.assign(CAMERAS) == set(CAMERAS)  # alone, it takes everything
    b = RedisLeases(redis_client, ttl_s=5, prefix=prefix, worker_id="b")
    held_a, held_b = await settle(a, b)
    assert len(held_a) == len(held_b) == 10
    assert held_a.isdisjoint(held_b) and held_a | held_b == set(CAMERAS)
    for camera in CAMERAS:  # Redis agrees on who holds what
        owner = (await redis_client.get(f"{prefix}:lease:{camera}")).decode()
        assert camera in (held_a if owner == "a" else held_b)
    await a.release_all()
    await b.release_all()


async def test_a_dead_workers_cameras_move_within_the_ttl(redis_client: aioredis.Redis, prefix: str) -> None:
    ttl = 1.0
    a = RedisLeases(redis_client, ttl_s=ttl, prefix=prefix, worker_id="a")
    b = RedisLeases(redis_client, ttl_s=ttl, prefix=prefix, worker_id="b")
    await settle(a, b)
    # Worker a dies: it simply stops renewing. b keeps cycling every ttl/3, as the service does.
    loop = asyncio.get_running_loop()
    died = loop.time()
    while await b.assign(CAMERAS) != set(CAMERAS):
        assert loop.time() - died < ttl * 2, "cameras not taken over"
        await asyncio.sleep(ttl / 3)
    assert loop.time() - died <= ttl + ttl / 3 + 0.5
    await b.release_all()


async def test_a_clean_stop_hands_over_at_once(redis_client: aioredis.Redis, prefix: str) -> None:
    a = RedisLeases(redis_client, ttl_s=30, prefix=prefix, worker_id="a")
    b = RedisLeases(redis_client, ttl_s=30, prefix=prefix, worker_id="b")
    await settle(a, b)
    await a.release_all()
    assert await b.assign(CAMERAS) == set(CAMERAS)  # no 30 s wait
    await b.release_all()


async def test_a_lease_taken_by_another_worker_is_given_up(redis_client: aioredis.Redis, prefix: str) -> None:
    a = RedisLeases(redis_client, ttl_s=30, prefix=prefix, worker_id="a")
    await a.assign(CAMERAS)
    await redis_client.set(f"{prefix}:lease:cam3", "intruder")  # as after a long pause of worker a
    held = await a.assign(CAMERAS)
    assert "cam3" not in held
    assert (await redis_client.get(f"{prefix}:lease:cam3")) == b"intruder"
    await a.release_all()
    assert (await redis_client.get(f"{prefix}:lease:cam3")) == b"intruder"  # not ours to release
