"""The arrival check on positions asks the database only where an arrival can happen: inside a
restaurant's fence, and elsewhere at most every ARRIVAL_RECHECK_S per inspector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from command_center.events.schemas import PositionEvent
from inspection.gps import geofence
from inspection.gps.geofence import Fence, FenceIndex
from inspection.tasks import flows

FENCE = Fence("r001", "haishan", 22.55, 114.24)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def test_positions_far_from_every_fence_are_checked_at_most_every_recheck_period(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    clock = [1000.0]

    def arrivals(ctx: Any, inspector_id: str) -> list[Any]:
        checked.append(inspector_id)
        return []

    monkeypatch.setattr(flows, "_arrivals", arrivals)
    monkeypatch.setattr(flows.time, "monotonic", lambda: clock[0])
    ctx = SimpleNamespace(engine=engine, bus=None)
    handle = flows.arrivals_consumer(ctx)  # type: ignore[arg-type]

    def position(lat: float, lon: float, inspector: str = "insp-01") -> None:
        event = PositionEvent(device_id=inspector, inspector_id=inspector, lat=lat, lon=lon)
        asyncio.run(handle(event))

    async def publish(_: Any, events: list[Any]) -> None:
        assert events == []

    monkeypatch.setattr(flows, "publish", publish)
    # Fences not read yet: every position is checked (and the check reads them).
    position(22.60, 114.30)
    position(22.60, 114.30)
    assert checked == ["insp-01", "insp-01"]
    monkeypatch.setattr(geofence, "cached_fence_index", lambda _: FenceIndex([FENCE]))
    position(22.60, 114.30)  # far away, checked a moment ago
    position(22.60, 114.30, "insp-02")  # another inspector's first
    position(FENCE.lat, FENCE.lon)  # inside a fence: always
    position(FENCE.lat + 1e-4, FENCE.lon)
    assert checked == ["insp-01", "insp-01", "insp-02", "insp-01", "insp-01"]
    clock[0] += flows.ARRIVAL_RECHECK_S + 1
    position(22.60, 114.30)  # far away, but long enough ago
    assert checked[-1] == "insp-01" and len(checked) == 6
