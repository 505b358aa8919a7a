"""Side effects of accepted fixes: a ``position`` event on the bus for the live map."""

from __future__ import annotations

from command_center.events.bus import EventBus
from command_center.events.schemas import PositionEvent
from inspection.gps.schemas import Fix
from inspection.gps.service import DeviceOwner


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
