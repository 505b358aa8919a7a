"""Event bus throughput, end to end: N events published one by one and handled by one consumer group.

    python bench/bus.py [--events 20000] [--redis-url redis://127.0.0.1:6379/0]

Runs the in-process MemoryBus and the RedisBus in the same process and prints events/s for each and the
ratio redis/memory, so the numbers compare on whatever machine runs it. The Redis stream is a fresh
``bench:<uuid>`` key, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from command_center.events.bus import EventBus
from command_center.events.memory import MemoryBus
from command_center.events.redis_bus import RedisBus
from command_center.events.schemas import Event, PositionEvent


@dataclass(frozen=True)
class Result:
    """One bus's run: how many events, how long from the first publish to the last handled."""

    bus: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events per second, end to end."""
        return self.events / self.seconds


def make_events(count: int) -> list[Event]:
    """Small, realistic events (GPS fixes), built before timing so model creation is not measured."""
    return [
        PositionEvent(inspector_id=f"i{n % 20}", device_id=f"insp-{n % 20 + 1:02d}", lat=22.57, lon=114.25)
        for n in range(count)
    ]


async def measure(bus: EventBus, events: list[Event], timeout_s: float) -> Result:
    """Publish ``events`` through ``bus`` and wait until its one consumer group has handled them all."""
    handled = 0
    finished = asyncio.Event()

    async def handle(event: Event) -> None:
        nonlocal handled
        handled += 1
        if handled == len(events):
            finished.set()

    bus.subscribe(handle, group="bench")
    await bus.start()
    try:
        started = time.perf_counter()
        for event in events:
            await bus.publish(event)
        await asyncio.wait_for(finished.wait(), timeout=timeout_s)
        return Result(bus.name, len(events), time.perf_counter() - started)
    finally:
        await bus.close()


async def redis_available(url: str) -> bool:
    """True when Redis answers; the benchmark then also runs the Redis bus."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (aioredis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def run(count: int, redis_url: str) -> list[Result]:
    """Measure the memory bus, then (when reachable) the Redis bus, on the same events."""
    events = make_events(count)
    results = [await measure(MemoryBus(), events, timeout_s=120)]
    if not await redis_available(redis_url):
        print(f"redis: not reachable at {redis_url}; skipped")
        return results
    stream = f"bench:{uuid.uuid4().hex}"
    try:
        results.append(await measure(RedisBus(redis_url, stream), events, timeout_s=300))
    finally:
        client = aioredis.Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=f"{stream}:seen:*", count=10_000)]
        await client.delete(stream, f"{stream}:dead", *keys)
        await client.aclose()
    return results


def report(results: list[Result]) -> None:
    """Print the table and, with both buses measured, the ratio redis/memory."""
    print(f"{'bus':<8} {'events':>8} {'seconds':>9} {'events/s':>11}")
    for result in results:
        print(f"{result.bus:<8} {result.events:>8} {result.seconds:>9.3f} {result.rate:>11,.0f}")
    rates = {result.bus: result.rate for result in results}
    if "redis" in rates:
        print(f"ratio redis/memory: {rates['redis'] / rates['memory']:.3f}")


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="events per bus (default 20000)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("MSCC_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis to measure against (default: $MSCC_REDIS_URL or the local server)",
    )
    args = parser.parse_args()
    report(asyncio.run(run(args.events, args.redis_url)))


if __name__ == "__main__":
    main()
