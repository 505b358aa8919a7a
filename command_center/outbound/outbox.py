"""A bounded, ordered outbox per target, drained by its own task: a dead target delays delivery, it does
not lose events or hold up the server.

The bus handler only appends to the outbox (:meth:`Outbox.put`, never awaits), so the bus consumer and
everything behind it keep going whatever the target does. The sender task hands the oldest events to
the target in batches and removes them only once the target has taken them; a failure keeps them at
the head and is retried with a growing pause (``min_backoff_s`` doubling up to ``max_backoff_s``, back
to the minimum after a success), so events leave in the order they came and the backlog of an outage
follows as soon as the target is back.

Bounded: an outbox holds at most ``capacity`` events (100,000 by default: about a day of alerts,
cases and camera changes, or several hours of GPS positions, of a 255-camera district). Beyond that
the oldest are dropped, counted in ``mscc_outbound_dropped_total`` and logged, because memory is not
infinite. The backlog lives in the server's memory: a restart during an outage loses it (alerts and
cases themselves are in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Protocol

from prometheus_client import Counter, Gauge

from command_center.events.schemas import Event

log = logging.getLogger(__name__)

DELIVERED = Counter("mscc_outbound_delivered", "Events a target accepted.", ["target"])
DROPPED = Counter("mscc_outbound_dropped", "Events dropped because an outbox was full.", ["target"])
FAILURES = Counter("mscc_outbound_failures", "Failed delivery attempts (retried).", ["target"])
BACKLOG = Gauge("mscc_outbound_backlog", "Events waiting in an outbox.", ["target"])


class DeliveryError(RuntimeError):
    """The target did not take the events (unreachable, refused, timed out); they will be retried."""


class Sink(Protocol):
    """Where an outbox delivers: an MQTT broker, a webhook URL."""

    name: str
    """Label for logs and metrics; never holds credentials."""

    async def start(self) -> None:
        """Connect (or prepare); must not fail when the target is down."""

    async def deliver(self, events: Sequence[Event]) -> int:
        """Deliver ``events`` in order; return how many, from the first, the target took. Raise
        :class:`DeliveryError` (or return less than ``len(events)``) to have the rest retried later."""

    async def close(self) -> None:
        """Disconnect."""


class Outbox:
    """The events waiting for one sink, and the loop that delivers them."""

    def __init__(
        self,
        sink: Sink,
        *,
        capacity: int = 100_000,
        batch: int = 20,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.sink = sink
        self._events: deque[Event] = deque()
        self._capacity = capacity
        self._batch = batch
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._wakeup = asyncio.Event()
        self._last_drop_log = 0.0
        self.delivered = 0
        self.dropped = 0
        self.last_error: str | None = None

    @property
    def backlog(self) -> int:
        """Events waiting."""
        return len(self._events)

    def put(self, event: Event) -> None:
        """Queue ``event`` (never waits); a full outbox drops its oldest event, counted and logged."""
        if len(self._events) >= self._capacity:
            lost = self._events.popleft()
            self.dropped += 1
            DROPPED.labels(self.sink.name).inc()
            now = time.monotonic()
            if now - self._last_drop_log >= 10.0:  # one line per 10 s, not one per event
                self._last_drop_log = now
                log.warning(
                    "outbox %s is full (%s events, target down since a while): dropping the oldest, %s %s",
                    *(self.sink.name, self._capacity, lost.type, lost.id),
                )
        self._events.append(event)
        BACKLOG.labels(self.sink.name).set(len(self._events))
        self._wakeup.set()

    async def handle(self, event: Event) -> None:
        """Bus handler: queue the event."""
        self.put(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set. Events still waiting then are counted in the log."""
        backoff = self._min_backoff_s
        while not stop.is_set():
            if not self._events:
                self._wakeup.clear()
                await _first(self._wakeup, stop, within=None)
                continue
            batch = list(islice(self._events, self._batch))
            try:
                taken = await self.sink.deliver(batch)
                error = None if taken == len(batch) else f"took {taken} of {len(batch)} events"
            except DeliveryError as exc:
                taken, error = 0, str(exc)
            for _ in range(taken):
                self._events.popleft()
            self.delivered += taken
            DELIVERED.labels(self.sink.name).inc(taken)
            BACKLOG.labels(self.sink.name).set(len(self._events))
            if error is None:
                if self.last_error is not None:
                    log.info("outbound %s delivers again (%s waiting)", self.sink.name, len(self._events))
                self.last_error, backoff = None, self._min_backoff_s
                continue
            FAILURES.labels(self.sink.name).inc()
            if error != self.last_error:
                log.warning(
                    "outbound %s: %s; %s events wait, retrying with back-off",
                    self.sink.name,
                    error,
                    self.backlog,
                )
            self.last_error = error
            await _first(stop, within=backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
        if self._events:
            log.warning("outbound %s stopped with %s undelivered events", self.sink.name, len(self._events))


async def _first(*events: asyncio.Event, within: float | None) -> None:
    """Wait until one of ``events`` is set, or ``within`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
