"""The delivery semantics of ``EventBus`` (bus.py docstring), checked against every implementation."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from command_center.events.schemas import AlertCreated, CameraStatus, Event, PositionEvent

from .conftest import BusHarness, Eventually, metric


def unique(prefix: str) -> str:
    """A group name no other test uses, so process-wide counters can be read exactly."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def alert(n: int = 0) -> AlertCreated:
    return AlertCreated(
        camera_id=f"cam{n}",
        restaurant_id="r-017",
        street_id="haishan",
        violation="no_mask",
        score=0.87,
        evidence_url=f"/evidence/{n}.jpg",
    )


class Recorder:
    """A handler that remembers what it got (and, optionally, which consumer got it)."""

    def __init__(self, name: str = "", delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.events.append(event)

    @property
    def ids(self) -> list[str]:
        return [event.id for event in self.events]


async def test_handler_receives_an_equal_typed_event(harness: BusHarness, eventually: Eventually) -> None:
    bus = harness.make()
    got = Recorder()
    bus.subscribe(got, group=unique("alerts"))
    await bus.start()
    sent = AlertCreated(
        camera_id="cam3",
        restaurant_id="r-001",
        street_id="meisha",
        violation="no_hat",
        score=0.91,
        # A producer in another time zone: the bus must hand over the same instant, in UTC.
        ts=datetime(2025, 5, 1, 10, 30, 15, 123456, tzinfo=UTC).astimezone(),
    )

    await bus.publish(sent)

    await eventually(lambda: len(got.events) == 1, what="the alert")
    received = got.events[0]
    assert isinstance(received, AlertCreated)
    assert received == sent
    assert (received.violation, received.score, received.restaurant_id) == ("no_hat", 0.91, "r-001")
    assert received.ts.utcoffset() == timedelta(0)
    assert received.ts == datetime(2025, 5, 1, 10, 30, 15, 123456, tzinfo=UTC)


async def test_every_group_gets_every_event(harness: BusHarness, eventually: Eventually) -> None:
    bus = harness.make()
    cases, wall = Recorder(), Recorder()
    bus.subscribe(cases, group=unique("cases"))
    bus.subscribe(wall, group=unique("mqtt"))
    await bus.start()
    sent = [alert(n) for n in range(10)]

    for event in sent:
        await bus.publish(event)

    await eventually(lambda: len(cases.events) == 10 and len(wall.events) == 10, what="both groups")
    assert sorted(cases.ids) == sorted(wall.ids) == sorted(event.id for event in sent)


async def test_consumers_of_one_group_share_its_events(harness: BusHarness, eventually: Eventually) -> None:
    bus = harness.make()
    group = unique("cases")
    first, second = Recorder("c1", delay=0.005), Recorder("c2", delay=0.005)
    bus.subscribe(first, group=group, consumer="c1")
    bus.subscribe(second, group=group, consumer="c2")
    await bus.start()
    sent = [alert(n) for n in range(30)]

    for event in sent:
        await bus.publish(event)
        await asyncio.sleep(0.002)

    await eventually(lambda: len(first.events) + len(second.events) >= 30, what="all 30 events")
    await asyncio.sleep(0.2)  # a late duplicate would show up within this
    counts = Counter(first.ids + second.ids)
    assert sorted(counts) == sorted(event.id for event in sent)
    assert set(counts.values()) == {1}, "each event is handled exactly once in the group"
    assert first.events and second.events, "both consumers took part"


async def test_a_failed_event_is_delivered_again_then_acknowledged(
    harness: BusHarness, eventually: Eventually
) -> None:
    bus = harness.make()
    group = unique("cases")
    calls: list[str] = []
    done: list[Event] = []

    async def flaky(event: Event) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            raise RuntimeError("database briefly away")
        done.append(event)

    bus.subscribe(flaky, group=group)
    await bus.start()
    sent = alert()

    await bus.publish(sent)

    await eventually(lambda: len(done) == 1, what="the redelivered event")
    assert done == [sent]
    assert calls == [sent.id, sent.id]
    await eventually(lambda: _no_pending(harness, group), what="XPENDING to drop to 0")
    assert metric("redelivered", bus=bus.name, group=group) == 1
    assert metric("handler_failures", bus=bus.name, group=group, type="alert.created") == 1
    assert await harness.dead_letters() == 0


async def _no_pending(harness: BusHarness, group: str) -> bool:
    return await harness.pending(group) == 0


async def test_an_event_published_twice_is_handled_once_per_group(
    harness: BusHarness, eventually: Eventually
) -> None:
    bus = harness.make()
    groups = [unique("cases"), unique("mqtt")]
    recorders = [Recorder(), Recorder()]
    for group, recorder in zip(groups, recorders, strict=True):
        bus.subscribe(recorder, group=group)
    await bus.start()
    twice, marker = alert(1), alert(2)

    await bus.publish(twice)
    await bus.publish(twice)
    await bus.publish(marker)

    # Delivery is in order within one consumer, so once the marker is in, the duplicate was dealt with.
    await eventually(lambda: all(marker.id in r.ids for r in recorders), what="the marker in both groups")
    for group, recorder in zip(groups, recorders, strict=True):
        assert recorder.ids == [twice.id, marker.id]
        assert metric("duplicates_skipped", bus=bus.name, group=group) == 1


async def test_an_always_failing_event_is_dead_lettered_without_blocking_the_rest(
    harness: BusHarness, eventually: Eventually
) -> None:
    bus = harness.make(max_deliveries=3)
    group = unique("cases")
    poison = alert(0)
    attempts: list[str] = []
    handled = Recorder()

    async def handler(event: Event) -> None:
        if event.id == poison.id:
            attempts.append(event.id)
            raise ValueError("cannot handle this one")
        await handled(event)

    bus.subscribe(handler, group=group)
    await bus.start()
    followers = [alert(n) for n in range(1, 4)]

    await bus.publish(poison)
    for event in followers:
        await bus.publish(event)

    await eventually(lambda: len(handled.events) == 3, what="the events after the poison one")
    assert len(attempts) < 3, "the following events did not wait for the retries"
    await eventually(lambda: metric("dead_lettered", bus=bus.name, group=group, type="alert.created") == 1)
    assert handled.ids == [event.id for event in followers]
    assert attempts == [poison.id] * 3
    assert await harness.dead_letters() == 1
    await eventually(lambda: _no_pending(harness, group), what="XPENDING to drop to 0")


async def test_broadcast_subscribers_get_everything(harness: BusHarness, eventually: Eventually) -> None:
    bus = harness.make()
    screens = [Recorder(), Recorder()]
    for screen in screens:
        bus.subscribe(screen, group=None)
    bus.subscribe(Recorder(), group=unique("cases"))  # a group alongside takes nothing away from them
    await bus.start()
    sent: list[Event] = [alert(1), CameraStatus(camera_id="cam1", state="offline"), alert(2)]
    sent.append(PositionEvent(inspector_id="i1", device_id="insp-01", lat=22.57, lon=114.25))

    for event in sent:
        await bus.publish(event)

    await eventually(lambda: all(len(s.events) == len(sent) for s in screens), what="every screen")
    for screen in screens:
        assert screen.events == sent


async def test_types_limit_a_subscription(harness: BusHarness, eventually: Eventually) -> None:
    bus = harness.make()
    cameras, positions = Recorder(), Recorder()
    bus.subscribe(cameras, group=unique("health"), types=["camera.status"])
    bus.subscribe(positions, group=None, types={"position"})
    await bus.start()
    offline = CameraStatus(camera_id="cam7", state="offline")
    fix = PositionEvent(inspector_id="i2", device_id="insp-02", lat=22.56, lon=114.24)

    for event in (alert(1), fix, offline, alert(2)):
        await bus.publish(event)
    last_status = CameraStatus(camera_id="cam7", state="online")
    last_fix = PositionEvent(inspector_id="i2", device_id="insp-02", lat=22.561, lon=114.241)
    await bus.publish(last_status)
    await bus.publish(last_fix)

    await eventually(
        lambda: last_status in cameras.events and last_fix in positions.events, what="the last ones"
    )
    assert cameras.events == [offline, last_status]
    assert positions.events == [fix, last_fix]
