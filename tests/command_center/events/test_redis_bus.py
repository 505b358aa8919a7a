"""What only the Redis bus promises: work survives a dead consumer, spreads over machines, and a Redis
outage gives producers a clear error and consumers a pause instead of a crash."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis

from command_center.events.bus import BusUnavailable
from command_center.events.redis_bus import RedisBus
from command_center.events.schemas import AlertCreated, Event

from .conftest import CLAIM_IDLE_MS, Eventually

pytestmark = pytest.mark.redis


def alert(n: int = 0) -> AlertCreated:
    return AlertCreated(camera_id=f"cam{n}", restaurant_id="r-042", violation="rodent", score=0.7)


def make_bus(
    redis_url: str, stream: str, *, close_timeout_s: float = 1.0, client_name: str | None = None
) -> RedisBus:
    """A bus with the fast retry settings these tests rely on."""
    return RedisBus(
        redis_url,
        stream,
        claim_idle_ms=CLAIM_IDLE_MS,
        block_ms=100,
        close_timeout_s=close_timeout_s,
        client_name=client_name,
    )


async def test_entry_read_by_a_consumer_that_died_goes_to_another(
    redis_url: str, redis_stream: str, redis_client: aioredis.Redis, eventually: Eventually
) -> None:
    # The group exists before anyone reads, as it would after the dead consumer's own start.
    await redis_client.xgroup_create(redis_stream, "cases", id="$", mkstream=True)
    publisher = make_bus(redis_url, redis_stream)
    sent = alert()
    await publisher.publish(sent)
    # A consumer reads the entry and dies before acknowledging it.
    reply: Any = await redis_client.xreadgroup("cases", "crashed-host-1-abc", {redis_stream: ">"}, count=10)
    assert [entry_id for entry_id, _ in reply[0][1]] == [await _last_id(redis_client, redis_stream)]

    survivor = make_bus(redis_url, redis_stream)
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    survivor.subscribe(handle, group="cases")
    started = time.monotonic()
    await survivor.start()
    try:
        await eventually(lambda: len(got) == 1, what="the orphaned entry")
        assert got == [sent]
        assert time.monotonic() - started >= CLAIM_IDLE_MS / 1000 * 0.5, "claimed only once idle"
        await eventually(lambda: _nothing_pending(redis_client, redis_stream), what="the entry to be acked")
    finally:
        await asyncio.gather(publisher.close(), survivor.close())


async def _last_id(client: aioredis.Redis, stream: str) -> str:
    info: dict[str, Any] = await client.xinfo_stream(stream)
    return str(info["last-generated-id"])


async def _pending(client: aioredis.Redis, stream: str, group: str = "cases") -> int:
    info = await client.xpending(stream, group)
    return int(info["pending"])


async def _nothing_pending(client: aioredis.Redis, stream: str) -> bool:
    return await _pending(client, stream) == 0


async def test_entry_of_a_hung_consumer_that_is_stopped_goes_to_another(
    redis_url: str, redis_stream: str, redis_client: aioredis.Redis, eventually: Eventually
) -> None:
    stuck = make_bus(redis_url, redis_stream, close_timeout_s=0.1)
    entered = asyncio.Event()

    async def hang(event: Event) -> None:
        entered.set()
        await asyncio.Event().wait()  # never returns: the process is wedged

    stuck.subscribe(hang, group="cases")
    await stuck.start()
    sent = alert()
    await stuck.publish(sent)
    await asyncio.wait_for(entered.wait(), timeout=10)
    await stuck.close()  # gives up on the handler after close_timeout_s, leaving the entry pending
    assert await _pending(redis_client, redis_stream) == 1

    other = make_bus(redis_url, redis_stream)
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    other.subscribe(handle, group="cases")
    await other.start()
    try:
        await eventually(lambda: got == [sent], what="the entry the stuck consumer held")
        await eventually(lambda: _nothing_pending(redis_client, redis_stream), what="the entry to be acked")
    finally:
        await other.close()


async def test_two_machines_in_one_group_share_the_work(
    redis_url: str, redis_stream: str, eventually: Eventually
) -> None:
    machines = [make_bus(redis_url, redis_stream), make_bus(redis_url, redis_stream)]
    handled: list[Counter[str]] = [Counter(), Counter()]
    for machine, seen in zip(machines, handled, strict=True):

        async def handle(event: Event, seen: Counter[str] = seen) -> None:
            await asyncio.sleep(0.005)
            seen[event.id] += 1

        machine.subscribe(handle, group="cases")
        await machine.start()
    sent = [alert(n) for n in range(40)]
    try:
        for event in sent:
            await machines[0].publish(event)
            await asyncio.sleep(0.002)

        await eventually(lambda: sum(seen.total() for seen in handled) >= 40, what="all 40 events")
        await asyncio.sleep(0.2)  # a late duplicate would show up within this
        total = handled[0] + handled[1]
        assert sorted(total) == sorted(event.id for event in sent)
        assert set(total.values()) == {1}, "each event handled exactly once across machines"
        assert handled[0] and handled[1], "both machines did part of the work"
    finally:
        await asyncio.gather(*(machine.close() for machine in machines))


async def test_broadcast_reaches_every_machine(
    redis_url: str, redis_stream: str, eventually: Eventually
) -> None:
    machines = [make_bus(redis_url, redis_stream), make_bus(redis_url, redis_stream)]
    screens: list[list[Event]] = [[], []]
    for machine, screen in zip(machines, screens, strict=True):

        async def show(event: Event, screen: list[Event] = screen) -> None:
            screen.append(event)

        machine.subscribe(show, group=None)
        await machine.start()
    sent = [alert(n) for n in range(5)]
    try:
        for event in sent:
            await machines[1].publish(event)
        await eventually(lambda: screens[0] == sent and screens[1] == sent, what="every machine's screen")
    finally:
        await asyncio.gather(*(machine.close() for machine in machines))


async def test_consumer_survives_a_dropped_connection(
    redis_url: str, redis_stream: str, redis_client: aioredis.Redis, eventually: Eventually
) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    bus = make_bus(redis_url, redis_stream, client_name=name)
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    bus.subscribe(handle, group="cases")
    await bus.start()
    try:
        await bus.publish(first := alert(1))
        await eventually(lambda: got == [first], what="the first event")
        # Only this bus's connections: other test runs may share the server.
        for client in await redis_client.client_list():
            if client.get("name") == name:
                await redis_client.client_kill_filter(_id=client["id"])
        await bus.publish(second := alert(2))
        await eventually(lambda: got == [first, second], what="the event after the reconnect")
        assert await bus.ping()
    finally:
        await bus.close()


async def test_publish_without_redis_raises_bus_unavailable_quickly() -> None:
    bus = RedisBus("redis://:secret@127.0.0.1:1/0", "test:nowhere")  # nothing listens on port 1
    started = time.monotonic()
    try:
        with pytest.raises(BusUnavailable) as raised:
            await bus.publish(alert())
        assert time.monotonic() - started < 5
        assert "127.0.0.1:1" in str(raised.value)
        assert "secret" not in str(raised.value)
        assert await bus.ping() is False
    finally:
        await bus.close()
