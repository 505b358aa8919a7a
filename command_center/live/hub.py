"""Fan-out of bus events to connected WebSocket clients, filtered by what each caller may see.

The hub also keeps the recent events of this process (the last ``history`` events, at most
``history_s`` old) so that a client reconnecting with the id of the last event it saw gets what it
missed. Every server receives every event through its broadcast subscription, so each server's history
is complete since it started, whichever server a client reconnects to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from command_center.auth.principal import Principal
from command_center.events.schemas import Event

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("mscc_ws_clients", "Connected WebSocket clients")
WS_SENT = Counter("mscc_ws_events_queued_total", "Events queued to WebSocket clients")
WS_DROPPED = Counter("mscc_ws_events_dropped_total", "Events dropped because a client was too slow")


def visible(principal: Principal, event: Event) -> bool:
    """Whether ``principal`` may receive ``event``: the same rules as the REST lists. Inspectors get a
    case's or a field task's events only while it is assigned to them (``inspector_id`` of the event);
    everything else follows the street rule."""
    if event.type in {"case.updated", "task.updated"} and principal.role == "inspector":
        return principal.inspector_id is not None and event.inspector_id == principal.inspector_id
    return principal.can_see_street(event.street_id)


@dataclass(eq=False)
class Client:
    """One connected browser: a bounded queue of serialised events."""

    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=500))
    dropped: int = 0
    missed: list[str] = field(default_factory=list)
    """Events it missed while disconnected, to send before the live ones."""
    resumed: bool | None = None
    """None: no resume asked; False: the last event id is no longer (or never was) in the history."""

    def offer(self, payload: str) -> None:
        """Queue ``payload``; a full queue drops its oldest entry, so a stalled client never grows memory."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            WS_DROPPED.inc()
        self.queue.put_nowait(payload)
        WS_SENT.inc()


@dataclass(frozen=True)
class _Past:
    event: Event
    payload: str
    at: float


class LiveHub:
    """Holds the clients of this process; ``on_event`` is the bus broadcast handler."""

    def __init__(
        self, *, history: int = 10_000, history_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clients: set[Client] = set()
        self._history: deque[_Past] = deque(maxlen=history)
        self._history_s = history_s
        self._clock = clock

    def connect(self, principal: Principal, *, last_event_id: str | None = None) -> Client:
        """Register a client for ``principal``; with ``last_event_id``, queue up the visible events that
        came after it. Done without awaiting, so no event can fall between the history and the live
        stream, or arrive through both."""
        client = Client(principal)
        if last_event_id is not None:
            missed = self._after(last_event_id)
            client.resumed = missed is not None
            client.missed = [p.payload for p in missed or () if visible(principal, p.event)]
        self._clients.add(client)
        WS_CLIENTS.set(len(self._clients))
        return client

    def disconnect(self, client: Client) -> None:
        """Forget a client."""
        self._clients.discard(client)
        WS_CLIENTS.set(len(self._clients))
        if client.dropped:
            log.info(
                "websocket client %s left after %s dropped events", client.principal.username, client.dropped
            )

    @property
    def client_count(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    def _after(self, event_id: str) -> list[_Past] | None:
        self._forget_old()
        newer: list[_Past] = []
        for past in reversed(self._history):
            if past.event.id == event_id:
                return newer[::-1]
            newer.append(past)
        return None

    def _forget_old(self) -> None:
        horizon = self._clock() - self._history_s
        while self._history and self._history[0].at < horizon:
            self._history.popleft()

    async def on_event(self, event: Event) -> None:
        """Serialise once, remember it, then queue it to every client allowed to see it."""
        payload = event.to_json()
        self._history.append(_Past(event, payload, self._clock()))
        self._forget_old()
        for client in list(self._clients):
            if visible(client.principal, event):
                client.offer(payload)
