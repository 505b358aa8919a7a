"""Side effects of alerts: the ``cc-alerts`` consumer that stores every ``alert.created`` event and
gathers it into a case, and manual alerts, which enter the same pipeline through the bus."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from command_center.alerts import service
from command_center.alerts.models import Alert
from command_center.alerts.schemas import ManualAlertAccepted
from command_center.auth.principal import Principal
from command_center.cases import service as cases
from command_center.cases.flows import case_event, now, policy, publish_all
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.events.bus import Handler
from command_center.events.schemas import AlertCreated, AlertUpdated, Event

log = logging.getLogger(__name__)

GROUP = "cc-alerts"
_ATTEMPTS = 3
# How long POST /api/alerts waits for the consumer to store the alert before answering without its id.
_STORED_WAIT_S = 2.0


def consumer(ctx: AppContext) -> Handler:
    """The bus handler of the ``cc-alerts`` group."""

    async def handle(event: Event) -> None:
        if isinstance(event, AlertCreated):
            await publish_all(ctx.bus, await run_in_threadpool(ingest, ctx, event))

    return handle


def ingest(ctx: AppContext, event: AlertCreated) -> list[Event]:
    """Store the alert of ``event`` and attach it to its case in one transaction; returns the events to
    publish once committed: none for a replayed event, which changes nothing.

    A unique-key race with another server (same event, or the same case opened twice) rolls the
    transaction back; the retry then sees the other server's rows.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with transaction(ctx.sessions) as session:
                at = now(ctx)
                alert = service.store_alert(session, event=event, now=at)
                if alert is None:
                    log.debug("alert event %s is stored already; ignored", event.id)
                    return []
                attached = cases.attach_alert(session, alert=alert, policy=policy(ctx), now=at)
                return _events(alert, attached)
        except IntegrityError as exc:
            if attempt == _ATTEMPTS:
                raise
            log.info("alert event %s raced another writer (%s); retrying", event.id, type(exc.orig).__name__)
    raise AssertionError("unreachable")


def _events(alert: Alert, attached: cases.Attached | None) -> list[Event]:
    case = attached.case if attached else None
    updated = AlertUpdated(
        alert_id=str(alert.id),
        camera_id=alert.camera_id,
        restaurant_id=alert.restaurant_id,
        street_id=alert.street_id,
        inspector_id=case.inspector_id if case else None,
        status=case.state if case else "unattached",
        case_id=str(case.id) if case else None,
        violation=alert.violation,
        source=alert.source,
        event_id=alert.event_id,
    )
    events: list[Event] = [updated]
    if attached is not None and attached.opened:
        events.append(case_event(attached.case, action="open", actor=cases.SYSTEM))
    log.info(
        "alert %s stored: %s at %s (camera %s, street %s), case %s%s",
        *(alert.id, alert.violation, alert.restaurant_id, alert.camera_id, alert.street_id),
        *(case.id if case else None, " (new)" if attached and attached.opened else ""),
    )
    return events


async def submit_manual(
    ctx: AppContext, *, principal: Principal, restaurant_id: str, street_id: str, violation: str, note: str
) -> ManualAlertAccepted:
    """Publish a manual alert (hotline call, walk-in complaint) as ``alert.created`` with source
    ``manual``, then wait briefly for the consumer to store it, so the answer can carry its ids.

    Raises ``BusUnavailable`` when the bus does not take it. The caller has checked the restaurant and
    the caller's street.
    """
    event = AlertCreated(
        restaurant_id=restaurant_id,
        street_id=street_id,
        violation=violation,
        score=None,
        validated=True,  # a person reported it; no model behind it to validate
        evidence_url=None,
        source="manual",
        note=note,
        reported_by=principal.username,
    )
    await ctx.bus.publish(event)
    log.info("manual alert %s (%s at %s) by %s", event.id, violation, restaurant_id, principal.username)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STORED_WAIT_S
    while True:
        stored = await run_in_threadpool(_stored, ctx, event.id)
        if stored is not None or loop.time() >= deadline:
            break
        await asyncio.sleep(0.05)
    alert_id, case_id = stored if stored is not None else (None, None)
    return ManualAlertAccepted(id=event.id, alert_id=alert_id, case_id=case_id)


def _stored(ctx: AppContext, event_id: str) -> tuple[int, int | None] | None:
    with ctx.sessions() as session:
        return service.stored_ids(session, event_id=event_id)
