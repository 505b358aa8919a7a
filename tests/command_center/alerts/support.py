"""Helpers shared by the alert and case tests: a controllable clock, publishing into a running app,
bounded waits, and picking sample restaurants and cameras."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from command_center.cases.flows import CLOCK, ESCALATION_EVERY_S
from command_center.context import AppContext
from command_center.events.schemas import Event
from config.clock import utcnow
from config.district import District

T = TypeVar("T")


class Clock:
    """The app's time source in tests: it moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or utcnow()).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)``; returns the new time."""
        self.now += timedelta(**delta)
        return self.now


def controlled(app: FastAPI) -> Clock:
    """Give ``app`` a controllable clock and turn off its periodic escalation (tests call it directly)."""
    clock = Clock()
    app.state.ctx.extra[CLOCK] = clock
    app.state.ctx.extra[ESCALATION_EVERY_S] = None
    return clock


def context(client: TestClient) -> AppContext:
    """The running app's context."""
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def call(client: TestClient, function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run a coroutine function on the running app's event loop, from the test thread."""
    assert client.portal is not None, "use the client as a context manager"
    return client.portal.call(function, *args)


def publish(client: TestClient, event: Event) -> None:
    """Publish ``event`` on the running app's bus, from the test thread."""
    call(client, context(client).bus.publish, event)


def eventually(check: Callable[[], Any], *, within: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy, and return that; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(0.02)


def token(headers: dict[str, str]) -> str:
    """The bearer token inside ``login(...)`` headers."""
    return headers["Authorization"].removeprefix("Bearer ")


def kitchen_cameras(district: District, street: str) -> list[tuple[str, str]]:
    """(camera id, restaurant id) of the restaurant cameras of one street, in config order."""
    streets = {r.id: r.street for r in district.restaurants}
    return [
        (c.id, c.owner.id)
        for c in district.cameras
        if c.owner.kind == "restaurant" and streets.get(c.owner.id) == street
    ]


def receive(ws: WebSocketTestSession, within: float = 10.0) -> dict[str, Any]:
    """The next frame as JSON, failing after ``within`` seconds instead of hanging the suite."""

    async def next_message() -> Any:
        with anyio.fail_after(within):
            # The test session has no receive with a timeout; its stream does.
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    assert message["type"] == "websocket.send", message
    frame: dict[str, Any] = json.loads(message["text"])
    return frame
