"""Side effects of cases: ``case.updated`` events, the app's clock, and the periodic escalation job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from command_center.cases import service
from command_center.cases.models import Case
from command_center.cases.policy import CasePolicy
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.events.bus import BusUnavailable, EventBus
from command_center.events.schemas import CaseUpdated, Event
from config.clock import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

CLOCK = "clock"
"""``ctx.extra`` key of the app's time source (tests put a controllable clock there)."""
ESCALATION_EVERY_S = "escalation_every_s"
"""``ctx.extra`` key: seconds between escalation checks (default 30); None turns the task off (tests)."""
DEFAULT_ESCALATION_EVERY_S = 30.0


def now(ctx: AppContext) -> datetime:
    """The app's current time: ``ctx.extra["clock"]()`` when a test set one, else the UTC wall clock."""
    clock = ctx.extra.get(CLOCK)
    if callable(clock):
        value = clock()
        assert isinstance(value, datetime)
        return value
    return utcnow()


def policy(ctx: AppContext) -> CasePolicy:
    """The case policy of the app's settings."""
    return CasePolicy.from_settings(ctx.settings)


def case_event(case: Case, *, action: str, actor: str) -> CaseUpdated:
    """The ``case.updated`` event of a case's new state. ``inspector_id`` is the assignee, so the
    WebSocket fan-out can send it to that inspector only."""
    return CaseUpdated(
        case_id=str(case.id),
        state=case.state,
        restaurant_id=case.restaurant_id,
        street_id=case.street_id,
        camera_id=case.camera_id,
        inspector_id=case.inspector_id,
        violation=case.violation,
        action=action,
        actor=actor,
        case_version=case.version,
        alert_count=case.alert_count,
        deadline=case.deadline.isoformat() if case.deadline else None,
    )


async def publish_all(bus: EventBus, events: Iterable[Event]) -> None:
    """Publish events that follow a committed change. The change stands if the bus is down: screens
    catch up from the REST API, so a lost push is logged, not raised to the user."""
    for event in events:
        try:
            await bus.publish(event)
        except BusUnavailable as exc:
            log.error("could not publish %s %s: %s", event.type, event.id, exc)


def _escalate(ctx: AppContext) -> list[Event]:
    with transaction(ctx.sessions) as session:
        cases = service.escalate_overdue(session, now=now(ctx), policy=policy(ctx))
        return [case_event(c, action="escalate", actor=service.SYSTEM) for c in cases]


async def escalate_now(ctx: AppContext) -> int:
    """Run one escalation check and publish its events; returns how many cases it escalated."""
    events = await run_in_threadpool(_escalate, ctx)
    await publish_all(ctx.bus, events)
    if events:
        log.info("escalated %s overdue case(s)", len(events))
    return len(events)


async def run_escalation(ctx: AppContext, *, every_s: float, stop: asyncio.Event) -> None:
    """Check for overdue cases every ``every_s`` seconds until ``stop`` is set. A failed check is logged
    and retried at the next tick: a database hiccup must not end the task."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
        try:
            await escalate_now(ctx)
        except Exception:
            log.exception("escalation check failed; retrying in %ss", every_s)


async def escalation_job(ctx: AppContext, stop: asyncio.Event) -> None:
    """The app's periodic escalation check, every 30 s (``ctx.extra["escalation_every_s"]``; None: off)."""
    every_s = ctx.extra.get(ESCALATION_EVERY_S, DEFAULT_ESCALATION_EVERY_S)
    if isinstance(every_s, int | float):
        await run_escalation(ctx, every_s=float(every_s), stop=stop)
