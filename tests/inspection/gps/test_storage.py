"""Positions storage at year scale: month partitions on PostgreSQL (made by migration 0008, kept ahead
and ordered by device by ``storage.maintain``), the same tracks and last positions on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from command_center.database.core import make_engine, make_session_factory
from command_center.database.migrate import upgrade
from inspection.gps import service, storage
from inspection.gps.models import Position

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _position(device_id: str, ts: datetime, lat: float = 22.58) -> Position:
    return Position(device_id=device_id, ts=ts, lat=lat, lon=114.27, attributes={}, received_at=ts)


def _partition_of(session: Session, position_id: int) -> str:
    return str(
        session.execute(
            text("SELECT tableoid::regclass::text FROM positions WHERE id = :i"), {"i": position_id}
        ).scalar()
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database with an empty positions table."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM positions"))
    yield engine
    engine.dispose()


def test_fixes_land_in_their_month_and_strays_move_when_the_month_is_made(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    recent, ancient = NOW - timedelta(hours=1), datetime(2019, 5, 3, 8, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        session.add_all([_position("insp-01", recent), _position("insp-01", ancient)])
    report = storage.maintain(engine, now=NOW)
    with sessions() as session:
        ids = {p.ts.year < 2020: p.id for p in session.scalars(select(Position))}
        if engine.dialect.name == "sqlite":
            assert report == storage.MaintenanceReport()
            return
        # Months from the migration up to two ahead exist; the 2019 fix fell into the default partition
        # and moved to its own month as the upkeep created it.
        names = [p.name for p in storage.month_partitions(session.connection())]
        assert {"positions_y2026m11", "positions_y2026m12", "positions_y2027m01"} <= set(names)
        assert "positions_y2019m05" in report.created and report.moved_from_default >= 1
        assert _partition_of(session, ids[False]) == "positions_y2026m11"
        assert _partition_of(session, ids[True]) == "positions_y2019m05"
        assert session.execute(text("SELECT count(*) FROM positions_default")).scalar() == 0
    # Running again changes nothing.
    assert storage.maintain(engine, now=NOW).created == []


def test_a_track_is_an_index_only_scan_and_reads_the_same_everywhere(engine: Engine) -> None:
    sessions: sessionmaker[Session] = make_session_factory(engine)
    day = datetime(2026, 6, 10, tzinfo=UTC)
    # Arrival order: the three devices interleaved, as a day of reports is written.
    with sessions() as session, session.begin():
        session.add_all(
            _position(f"insp-0{d}", day + timedelta(seconds=5 * k), 22.58 + k * 1e-4)
            for k in range(200)
            for d in (1, 2, 3)
        )
    storage.maintain(engine, now=NOW)  # June was not made ahead: its fixes move out of the default
    with sessions() as session:
        points = service.track(session, device_id="insp-02", since=day, until=day + timedelta(days=1))
        assert [p.ts for p in points] == [day + timedelta(seconds=5 * k) for k in range(200)]
        assert points[0].lat == pytest.approx(22.58) and points[-1].lat == pytest.approx(22.58 + 199e-4)
        if engine.dialect.name == "sqlite":
            return
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE positions"))  # as autovacuum does: the visibility map
        # 600 rows: a plan for millions is forced by taking the other paths away.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        statement = service.track_statement(
            device_id="insp-02", since=day, until=day + timedelta(days=1)
        ).compile(engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {statement}")).scalars())
        # Every column of a track is in the index: the rows themselves are not read.
        assert "Index Only Scan" in plan and "positions_y2026m06" in plan, plan


def test_last_positions_takes_the_newest_fix_across_months(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add_all(
            [
                _position("insp-01", datetime(2026, 9, 30, 23, 59, tzinfo=UTC), 1.0),
                _position("insp-01", datetime(2026, 10, 1, 0, 1, tzinfo=UTC), 2.0),
                _position("insp-01", datetime(2026, 8, 1, tzinfo=UTC), 3.0),
                _position("insp-02", datetime(2026, 8, 1, tzinfo=UTC), 4.0),
            ]
        )
    with sessions() as session:
        last = service.last_positions(session, ["insp-02", "insp-01", "insp-01"])
        assert {d: p.lat for d, p in last.items()} == {"insp-01": 2.0, "insp-02": 4.0}
        assert service.last_positions(session, []) == {}


def test_migration_keeps_existing_fixes_and_their_ids(database_url: str) -> None:
    """Upgrading a database that already holds fixes (0007 -> 0008) and back keeps every fix."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        _drop_all(engine)
        upgrade(engine, "0007")
        sessions = make_session_factory(engine)
        stamps = [datetime(2025, 12, 31, 23, 0, tzinfo=UTC), NOW - timedelta(days=1)]
        with sessions() as session, session.begin():
            session.add_all(_position("insp-05", ts) for ts in stamps)
        upgrade(engine, "0008")
        with sessions() as session, session.begin():
            kept = session.execute(select(Position.id, Position.ts).order_by(Position.id)).all()
            assert [ts for _, ts in kept] == stamps
            new = _position("insp-05", NOW)
            session.add(new)
            session.flush()
            assert new.id > max(i for i, _ in kept)
            if engine.dialect.name == "postgresql":
                assert _partition_of(session, kept[0][0]) == "positions_y2025m12"
        from alembic import command

        from command_center.database.migrate import alembic_config

        with engine.begin() as conn:
            cfg = alembic_config(engine.url.render_as_string(hide_password=False))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        with sessions() as session:
            assert session.execute(text("SELECT count(*) FROM positions")).scalar() == 3
        upgrade(engine)
    finally:
        engine.dispose()


def _drop_all(engine: Engine) -> None:
    from command_center.database.registry import metadata

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            metadata().drop_all(conn)
