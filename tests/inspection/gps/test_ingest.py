"""The position writer: requests that arrive together are written in one transaction, and each gets the
answer it would have got alone (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.district.service import sync_district
from command_center.events.memory import MemoryBus
from command_center.events.schemas import Event, PositionEvent
from command_center.live.hub import LiveHub
from config.district import District
from inspection.gps import ingest, service
from inspection.gps.models import HeldPosition, PendingDevice, Position, Visit
from inspection.gps.schemas import BatchResult, Fix
from tests.conftest import SECRET, make_settings


@pytest.fixture
def ctx(
    sessions: sessionmaker[Session], sample_district: District, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppContext]:
    """A server context on the migrated database with the sample district and no positions yet."""
    with transaction(sessions) as session:
        sync_district(session, sample_district)
        for model in (Visit, HeldPosition, PendingDevice, Position):
            session.execute(delete(model))
    engine = sessions.kw["bind"]
    yield AppContext(
        settings=make_settings(tmp_path_factory.mktemp("data"), str(engine.url)),
        secret=SECRET,
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        hub=LiveHub(),
    )


def _fix(device: str, seconds: float, **extra: Any) -> Fix:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    return Fix(
        device_id=device, ts=t0 + timedelta(seconds=seconds), lat=22.55, lon=114.24 + seconds * 1e-4, **extra
    )


async def _with_writer(ctx: AppContext, requests: list[list[Fix]]) -> tuple[list[Any], list[Event], int]:
    """Send ``requests`` concurrently through a started writer: (results or exceptions, the position
    events published, transactions used)."""
    events: list[Event] = []

    async def collect(event: Event) -> None:
        events.append(event)

    ctx.bus.subscribe(collect, group=None, types=["position"])
    await ctx.bus.start()
    writer = ingest.PositionWriter(ctx)
    await writer.start()
    before = _transactions()
    try:
        results = await asyncio.gather(*(writer.write(r) for r in requests), return_exceptions=True)
        await asyncio.sleep(0.05)  # the broadcast subscription delivers
    finally:
        await writer.stop()
        await ctx.bus.close()
    return results, events, int(_transactions() - before)


def _transactions() -> float:
    return next(s.value for m in ingest.GROUP_FIXES.collect() for s in m.samples if s.name.endswith("_count"))


def test_concurrent_requests_share_a_transaction_and_keep_their_own_answers(ctx: AppContext) -> None:
    requests = [[_fix(f"insp-{k:02d}", k)] for k in range(1, 21)]
    requests.append([_fix("insp-01", 1)])  # the same fix again: a duplicate
    requests.append([_fix("insp-21", 5)])  # an unregistered device: held for approval
    requests.append([_fix("veh-01", 0, accuracy=20.0), _fix("veh-01", 3, accuracy=500.0), _fix("veh-01", 6)])
    results, events, transactions = asyncio.run(_with_writer(ctx, requests))
    assert transactions < len(requests)  # grouped
    assert all(r == BatchResult(accepted=1, rejected=[]) for r in results[:20])
    assert results[20].accepted == 0 and [r.code for r in results[20].rejected] == ["duplicate"]
    assert results[21].accepted == 0 and [h.code for h in results[21].held] == ["held"]
    # Indices are the request's own, not the shared transaction's.
    assert results[22].accepted == 2
    assert [(r.index, r.code) for r in results[22].rejected] == [(1, "accuracy")]
    assert sorted(e.device_id for e in events if isinstance(e, PositionEvent)) == sorted(
        [f"insp-{k:02d}" for k in range(1, 21)] + ["veh-01", "veh-01"]
    )
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Position)) == 22


def test_a_request_that_breaks_the_shared_write_fails_alone(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.store_fixes

    def store_fixes(session: Session, fixes: list[Fix], **kwargs: Any) -> service.StoreOutcome:
        fixes = list(fixes)
        if any(f.attributes.get("boom") for f in fixes):
            raise RuntimeError("database says no")
        return real(session, fixes, **kwargs)

    monkeypatch.setattr(service, "store_fixes", store_fixes)
    requests = [[_fix("insp-01", 1)], [_fix("insp-02", 1, attributes={"boom": "1"})], [_fix("insp-03", 1)]]
    results, events, _ = asyncio.run(_with_writer(ctx, requests))
    assert results[0].accepted == 1 and results[2].accepted == 1
    assert isinstance(results[1], RuntimeError)
    assert {e.device_id for e in events if isinstance(e, PositionEvent)} == {"insp-01", "insp-03"}


def test_without_a_started_writer_requests_are_written_alone(ctx: AppContext) -> None:
    async def scenario() -> BatchResult:
        return await ingest.PositionWriter(ctx).write([_fix("insp-04", 1), _fix("insp-04", 1)])

    result = asyncio.run(scenario())
    assert result.accepted == 1 and [(r.index, r.code) for r in result.rejected] == [(1, "duplicate")]
