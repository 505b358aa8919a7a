"""Side effects of tasks: ``task.updated`` events (the live push to the inspector's phone and the
supervisor's console), the events of the case a task moved, and the arrival check on positions."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from command_center.cases import flows as case_flows
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.events.schemas import Event, PositionEvent, TaskUpdated
from inspection.gps import geofence
from inspection.tasks import service
from inspection.tasks.models import FieldTask

log = logging.getLogger(__name__)

ARRIVALS_GROUP = "cc-task-arrivals"


def task_event(task: FieldTask, *, action: str, actor: str) -> TaskUpdated:
    """The ``task.updated`` event of a task's new state; ``inspector_id`` is the assignee, so the
    WebSocket fan-out sends it to that inspector (and to supervisors of the street)."""
    return TaskUpdated(
        id=f"task-{task.id}-v{task.version}",
        task_id=task.id,
        state=task.state,
        action=action,
        actor=actor,
        case_id=task.case_id,
        restaurant_id=task.restaurant_id,
        street_id=task.street_id,
        inspector_id=task.inspector_id,
    )


def changed_events(changed: service.Changed, *, action: str, actor: str) -> list[Event]:
    """The events of one task step: the task's, then its case's when the step moved the case."""
    events: list[Event] = [task_event(changed.task, action=action, actor=actor)]
    if changed.case is not None and changed.case_action is not None:
        events.append(case_flows.case_event(changed.case, action=changed.case_action, actor=actor))
    return events


async def publish(ctx: AppContext, events: list[Event]) -> None:
    """Publish events of a committed step (a bus outage is logged; screens catch up over REST)."""
    await case_flows.publish_all(ctx.bus, events)


# Outside every fence an arrival can only be missed by a race with the task's acceptance: looked at
# again after this long.
ARRIVAL_RECHECK_S = 30.0


def _arrivals(ctx: AppContext, inspector_id: str) -> list[Event]:
    with transaction(ctx.sessions) as session:
        geofence.fence_index(session)  # keeps the fences the handler looks at fresh
        now = case_flows.now(ctx)
        tasks = service.mark_arrivals(session, inspector_id=inspector_id, now=now)
        return [task_event(t, action="arrive", actor=service.SYSTEM) for t in tasks]


def arrivals_consumer(ctx: AppContext) -> Callable[[Event], Awaitable[None]]:
    """A bus handler for ``position`` events: an inspector with an accepted task who is inside its
    restaurant's geofence (a visit, stored with the position) is marked on site.

    The database is asked when the position is inside some restaurant's fence (or the fences are not
    known yet), and otherwise at most every ``ARRIVAL_RECHECK_S`` per inspector: phones report every few
    seconds, and a transaction per position cost more than storing it."""
    checked: dict[str, float] = {}

    async def handle(event: Event) -> None:
        if not isinstance(event, PositionEvent) or event.inspector_id is None:
            return
        now = time.monotonic()
        fences = geofence.cached_fence_index(ctx.engine)
        near = fences is None or bool(fences.inside(event.lat, event.lon))
        if not near and now - checked.get(event.inspector_id, -math.inf) < ARRIVAL_RECHECK_S:
            return
        checked[event.inspector_id] = now
        events = await run_in_threadpool(_arrivals, ctx, event.inspector_id)
        await publish(ctx, events)

    return handle
