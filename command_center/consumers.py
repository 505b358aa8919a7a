"""Every bus consumer of the server, registered in one place (STYLE habit 6)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool

from command_center.alerts import flows as alerts
from command_center.cameras import service as cameras
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.events.schemas import CameraStatus, Event
from command_center.outbound import flows as outbound
from command_center.recordings.flows import Recordings
from inspection.tasks import flows as tasks

log = logging.getLogger(__name__)


def register(ctx: AppContext) -> None:
    """Subscribe the server's handlers to the bus (before ``bus.start``)."""
    # Every server process pushes every event to its own browsers: a broadcast subscription.
    ctx.bus.subscribe(ctx.hub.on_event, group=None)

    async def camera_status(event: Event) -> None:
        if isinstance(event, CameraStatus):
            await run_in_threadpool(_apply_camera_status, ctx, event)

    # Stored once per event across all servers: a consumer group.
    ctx.bus.subscribe(camera_status, group="cc-camera-status", types=["camera.status"])
    ctx.bus.subscribe(alerts.consumer(ctx), group=alerts.GROUP, types=["alert.created"])
    # An inspector's position inside the restaurant of an accepted field task marks them on site.
    ctx.bus.subscribe(tasks.arrivals_consumer(ctx), group=tasks.ARRIVALS_GROUP, types=["position"])
    recordings = Recordings(ctx)
    recordings.register()
    ctx.recordings = recordings
    # Events out (MQTT, webhooks), each in its own group, when the settings ask for them.
    outbound.register(ctx)


def _apply_camera_status(ctx: AppContext, event: CameraStatus) -> None:
    with transaction(ctx.sessions) as session:
        if not cameras.apply_status(session, event=event):
            log.debug("camera.status for %s ignored (unknown camera or stale)", event.camera_id)
