"""The bus interface every producer and consumer uses; implementations: memory.py, redis_bus.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from command_center.events.schemas import Event

Handler = Callable[[Event], Awaitable[None]]


class BusUnavailable(RuntimeError):  # noqa: N818 -- the agreed name; producers already catch it
    """The bus cannot accept events: its backend is unreachable (after a bounded retry) or it is closed.

    Producers catch this one exception whatever the implementation; the message never holds credentials.
    """


class EventBus(Protocol):
    """Publish typed events; deliver them to subscribers.

    Delivery semantics, identical for every implementation:

    * ``subscribe(group=NAME, ...)`` joins a consumer group. Each group receives every event once
      (at-least-once); several consumers in one group (processes or machines) share its events.
      An event is acknowledged only after the handler returns; a handler that raises gets the event
      again later, up to ``max_deliveries`` times, then it is dead-lettered and counted.
      Consumers de-duplicate by event id, so an event published twice is handled once per group.
    * ``subscribe(group=None, ...)`` is a broadcast subscription: this process sees every event
      published from now on (used for the WebSocket fan-out, where every server needs all events).
    * ``types`` limits a subscription to those event types.
    """

    name: str

    async def start(self) -> None:
        """Connect and start delivering to the subscriptions registered so far."""

    async def close(self) -> None:
        """Stop delivering, finish in-flight handlers and disconnect."""

    async def publish(self, event: Event) -> None:
        """Send one event; returns once the bus has accepted it.

        Raises :class:`BusUnavailable` when the bus cannot take it (backend down after a bounded retry,
        or the bus is closed).
        """

    def subscribe(
        self,
        handler: Handler,
        *,
        group: str | None,
        types: Collection[str] | None = None,
        consumer: str | None = None,
    ) -> None:
        """Register a handler (before or after ``start``)."""

    async def ping(self) -> bool:
        """True when the bus answers (health check)."""
