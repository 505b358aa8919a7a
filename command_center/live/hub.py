"""Fan-out of bus events to connected WebSocket clients, filtered by what each caller may see."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from command_center.auth.principal import Principal
from command_center.events.schemas import Event

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("mscc_ws_clients", "Connected WebSocket clients")
WS_SENT = Counter("mscc_ws_events_queued_total", "Events queued to WebSocket clients")
WS_DROPPED = Counter("mscc_ws_events_dropped_total", "Events dropped because a client was too slow")


def visible(principal: Principal, event: Event) -> bool:
    """Whether ``principal`` may receive ``event``: the same street rule as the REST lists."""
    return principal.can_see_street(event.street_id)


@dataclass(eq=False)
class Client:
    """One connected browser: a bounded queue of serialised events."""

    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=500))
    dropped: int = 0

    def offer(self, payload: str) -> None:
        """Queue ``payload``; a full queue drops its oldest entry, so a stalled client never grows memory."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            WS_DROPPED.inc()
        self.queue.put_nowait(payload)
        WS_SENT.inc()


class LiveHub:
    """Holds the clients of this process; ``on_event`` is the bus broadcast handler."""

    def __init__(self) -> None:
        self._clients: set[Client] = set()

    def connect(self, principal: Principal) -> Client:
        """Register a client for ``principal``."""
        client = Client(principal)
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

    async def on_event(self, event: Event) -> None:
        """Serialise once, then queue to every client allowed to see the event."""
        payload = event.to_json()
        for client in list(self._clients):
            if visible(client.principal, event):
                client.offer(payload)
