"""Side effects of accepted fixes (a ``position`` event on the bus for the live map) and the periodic
upkeep of their storage."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from command_center.context import AppContext
from command_center.events.bus import EventBus
from command_center.events.schemas import PositionEvent
from inspection.gps import storage
from inspection.gps.schemas import Fix
from inspection.gps.service import DeviceOwner

log = logging.getLogger(__name__)

STORAGE_EVERY_S = 6 * 3600.0


async def publish_positions(bus: EventBus, stored: list[tuple[Fix, DeviceOwner]]) -> None:
    """Publish one event per stored fix, carrying the inspector and street it concerns."""
    for fix, owner in stored:
        await bus.publish(
            PositionEvent(
                device_id=fix.device_id,
                ts=fix.ts,
                lat=fix.lat,
                lon=fix.lon,
                speed_kmh=fix.speed_kmh,
                bearing=fix.bearing,
                accuracy=fix.accuracy,
                battery=fix.battery,
                inspector_id=owner.owner_id if owner.kind == "inspector" else None,
                street_id=owner.street_id,
            )
        )


async def storage_job(ctx: AppContext, stop: asyncio.Event, every_s: float = STORAGE_EVERY_S) -> None:
    """At start-up and every ``every_s``: the month partitions of the positions created ahead
    (:func:`inspection.gps.storage.maintain`; nothing on SQLite). A failure is logged and tried again
    next time: until then fixes land in the default partition, never lost."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(storage.maintain, ctx.engine)
        except Exception:
            log.exception("positions storage upkeep failed; trying again in %.0f s", every_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
