"""In-process event bus for a single machine (``mscc demo``, tests): asyncio queues, no persistence.

Each consumer group and each broadcast subscription owns one bounded queue; every ``subscribe`` call
adds one worker task (a consumer) reading its group's queue, so consumers of one group share events.

Back-pressure: when a queue is full, ``publish`` waits up to ``full_queue_wait_s`` for room and then
drops the event for that group only, counting it in ``mscc_bus_dropped`` and logging a warning
(STYLE habit 5: bounded queues, visible drops). While that group stays full, further events for it are
dropped without waiting. A slow group therefore never blocks publishers for long and never grows memory
without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Collection
from dataclasses import dataclass, field

from command_center.events import metrics
from command_center.events.bus import BusUnavailable, Handler
from command_center.events.schemas import Event

log = logging.getLogger(__name__)

BUS_NAME = "memory"


class RecentIds:
    """A bounded LRU set of event ids, used to skip an event published twice."""

    def __init__(self, maxsize: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._maxsize = maxsize

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        """Remember an id, forgetting the oldest one beyond ``maxsize``."""
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        if len(self._ids) > self._maxsize:
            self._ids.popitem(last=False)

    def discard(self, event_id: str) -> None:
        """Forget an id (a dead-lettered event may be published again and retried)."""
        self._ids.pop(event_id, None)


@dataclass(frozen=True)
class DeadLetter:
    """An event a group gave up on, kept for inspection in :attr:`MemoryBus.dead_letters`."""

    group: str
    event: Event
    error: str


@dataclass(eq=False)
class _Delivery:
    event: Event
    attempts: int = 0


@dataclass(eq=False)
class _Consumer:
    handler: Handler
    types: frozenset[str] | None
    name: str
    task: asyncio.Task[None] | None = None
    # True while the handler runs, so close() lets it finish instead of cancelling it.
    busy: bool = False

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types


@dataclass(eq=False)
class _Group:
    label: str
    queue: asyncio.Queue[_Delivery]
    seen: RecentIds
    # Broadcast subscriptions are best effort: a failing handler is logged, never retried.
    retry: bool
    consumers: list[_Consumer] = field(default_factory=list)
    last_drop_log: float = 0.0
    # Set when a wait for room timed out: later events drop at once until the queue takes one again,
    # so a stuck group costs publishers one wait, not one per event.
    stalled: bool = False

    def wants(self, event: Event) -> bool:
        return any(consumer.wants(event) for consumer in self.consumers)


class MemoryBus:
    """The :class:`~command_center.events.bus.EventBus` for one process.

    ``queue_size`` bounds each group's queue; ``full_queue_wait_s`` is how long ``publish`` waits for room
    before dropping; a failed event is redelivered after ``redelivery_delay_s`` up to ``max_deliveries``
    handler calls, then dead-lettered; ``dedup_size`` recent ids per group are remembered;
    ``close_timeout_s`` bounds how long ``close`` waits for running handlers.
    """

    name = BUS_NAME

    def __init__(
        self,
        *,
        queue_size: int = 10_000,
        full_queue_wait_s: float = 1.0,
        max_deliveries: int = 5,
        redelivery_delay_s: float = 0.5,
        dedup_size: int = 50_000,
        close_timeout_s: float = 5.0,
    ) -> None:
        if queue_size < 1 or max_deliveries < 1 or dedup_size < 1:
            raise ValueError("queue_size, max_deliveries and dedup_size must be at least 1")
        self._queue_size = queue_size
        self._full_queue_wait_s = full_queue_wait_s
        self._max_deliveries = max_deliveries
        self._redelivery_delay_s = redelivery_delay_s
        self._dedup_size = dedup_size
        self._close_timeout_s = close_timeout_s
        self._groups: dict[str, _Group] = {}
        self._broadcasts: list[_Group] = []
        self._redeliveries: set[asyncio.TimerHandle] = set()
        self._started = False
        self._closed = False
        self.dead_letters: deque[DeadLetter] = deque(maxlen=1000)
        """The most recent dead-lettered events (the log and ``mscc_bus_dead_lettered`` hold the rest)."""

    async def start(self) -> None:
        """Start one worker task per consumer registered so far."""
        if self._closed:
            raise BusUnavailable("memory bus is closed")
        self._started = True
        for group in self._all_groups():
            for consumer in group.consumers:
                self._spawn(group, consumer)

    async def close(self) -> None:
        """Stop the workers, letting running handlers finish (up to ``close_timeout_s``)."""
        if self._closed:
            return
        self._closed = True
        for handle in self._redeliveries:
            handle.cancel()
        self._redeliveries.clear()
        tasks: list[asyncio.Task[None]] = []
        for group in self._all_groups():
            for consumer in group.consumers:
                if consumer.task is None:
                    continue
                if not consumer.busy:
                    consumer.task.cancel()
                tasks.append(consumer.task)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self._close_timeout_s)
        for task in pending:
            log.warning(
                "memory bus: a handler did not finish within %ss; cancelling it", self._close_timeout_s
            )
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def publish(self, event: Event) -> None:
        """Queue the event for every group and broadcast subscription that wants it.

        Raises :class:`BusUnavailable` after ``close``. A full queue drops the event for that group
        only, after waiting up to ``full_queue_wait_s``.
        """
        if self._closed:
            raise BusUnavailable("memory bus is closed")
        metrics.PUBLISHED.labels(BUS_NAME, event.type).inc()
        for group in self._all_groups():
            await self._offer(group, event)

    def subscribe(
        self,
        handler: Handler,
        *,
        group: str | None,
        types: Collection[str] | None = None,
        consumer: str | None = None,
    ) -> None:
        """Add a consumer to ``group`` (or a broadcast subscription when ``group`` is None).

        Consumers of one group should subscribe the same ``types``: an event is given to whichever
        consumer is free, and one that does not want it acknowledges and skips it.
        """
        if self._closed:
            raise BusUnavailable("memory bus is closed")
        wanted = frozenset(types) if types is not None else None
        if group is None:
            target = self._new_group(metrics.BROADCAST, retry=False)
            self._broadcasts.append(target)
        else:
            target = self._groups.get(group) or self._new_group(group, retry=True)
            self._groups[group] = target
        name = consumer or f"{target.label}-{len(target.consumers) + 1}"
        entry = _Consumer(handler=handler, types=wanted, name=name)
        target.consumers.append(entry)
        if self._started:
            self._spawn(target, entry)

    async def ping(self) -> bool:
        """True until the bus is closed."""
        return not self._closed

    def _new_group(self, label: str, *, retry: bool) -> _Group:
        return _Group(
            label=label,
            queue=asyncio.Queue(maxsize=self._queue_size),
            seen=RecentIds(self._dedup_size),
            retry=retry,
        )

    def _all_groups(self) -> list[_Group]:
        return [*self._groups.values(), *self._broadcasts]

    def _spawn(self, group: _Group, consumer: _Consumer) -> None:
        consumer.task = asyncio.create_task(
            self._run(group, consumer), name=f"memory-bus:{group.label}:{consumer.name}"
        )

    async def _offer(self, group: _Group, event: Event) -> None:
        if not group.wants(event):
            return
        if event.id in group.seen:
            metrics.DUPLICATES_SKIPPED.labels(BUS_NAME, group.label).inc()
            return
        # Marked when queued, not when handled, so a duplicate arriving while the first is still
        # queued or running is skipped too; forgotten again if the event is dropped.
        group.seen.add(event.id)
        delivery = _Delivery(event)
        try:
            group.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            if group.stalled:
                self._count_drop(group, event)
                return
            try:
                # Brief back-pressure lets a burst through; a stuck group still cannot block us for long.
                async with asyncio.timeout(self._full_queue_wait_s):
                    await group.queue.put(delivery)
            except TimeoutError:
                group.stalled = True
                self._count_drop(group, event)
                return
        group.stalled = False

    def _count_drop(self, group: _Group, event: Event) -> None:
        group.seen.discard(event.id)
        metrics.DROPPED.labels(BUS_NAME, group.label).inc()
        now = time.monotonic()
        # At most one warning per second per group: a stuck consumer must not flood the log.
        if now - group.last_drop_log >= 1.0:
            group.last_drop_log = now
            log.warning(
                "memory bus: queue of group %s is full (%s); dropping %s event %s",
                group.label,
                self._queue_size,
                event.type,
                event.id,
            )

    async def _run(self, group: _Group, consumer: _Consumer) -> None:
        while not self._closed:
            delivery = await group.queue.get()
            consumer.busy = True
            try:
                await self._deliver(group, consumer, delivery)
            finally:
                consumer.busy = False

    async def _deliver(self, group: _Group, consumer: _Consumer, delivery: _Delivery) -> None:
        event = delivery.event
        if not consumer.wants(event):
            return
        delivery.attempts += 1
        try:
            await consumer.handler(event)
        except Exception as exc:
            metrics.HANDLER_FAILURES.labels(BUS_NAME, group.label, event.type).inc()
            if not group.retry:
                log.exception(
                    "memory bus: broadcast handler %s failed on %s %s", consumer.name, event.type, event.id
                )
            elif delivery.attempts >= self._max_deliveries:
                self._dead_letter(group, delivery, exc)
            else:
                log.warning(
                    "memory bus: handler %s of group %s failed on %s %s (attempt %s/%s): %r; retrying in %ss",
                    consumer.name,
                    group.label,
                    event.type,
                    event.id,
                    delivery.attempts,
                    self._max_deliveries,
                    exc,
                    self._redelivery_delay_s,
                )
                self._schedule_redelivery(group, delivery)
            return
        metrics.HANDLED.labels(BUS_NAME, group.label, event.type).inc()

    def _dead_letter(self, group: _Group, delivery: _Delivery, exc: Exception) -> None:
        event = delivery.event
        metrics.DEAD_LETTERED.labels(BUS_NAME, group.label, event.type).inc()
        # Forget the id so that publishing the event again (after a fix) gives it a fresh chance.
        group.seen.discard(event.id)
        self.dead_letters.append(DeadLetter(group=group.label, event=event, error=repr(exc)))
        log.error(
            "memory bus: group %s gave up on %s %s after %s deliveries",
            group.label,
            event.type,
            event.id,
            delivery.attempts,
            exc_info=exc,
        )

    def _schedule_redelivery(self, group: _Group, delivery: _Delivery) -> None:
        # A timer instead of sleeping in the worker, so the following events are not held up.
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def requeue() -> None:
            if handle is not None:
                self._redeliveries.discard(handle)
            if self._closed:
                return
            try:
                group.queue.put_nowait(delivery)
            except asyncio.QueueFull:
                self._count_drop(group, delivery.event)
                return
            metrics.REDELIVERED.labels(BUS_NAME, group.label).inc()

        handle = loop.call_later(self._redelivery_delay_s, requeue)
        self._redeliveries.add(handle)
