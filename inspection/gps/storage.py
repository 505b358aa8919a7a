"""Tracks at year scale on PostgreSQL: monthly partitions of ``positions``, created ahead and re-ordered
by device once a month is closed.

Why (measured with ``bench/tracks.py``): fixes arrive in time order from every device at once, so one
inspector-day at 1 fix per 5 s (17,280 rows) is spread over every heap page of that day, about 5,300
pages shared with the other 19 inspectors. The ``(device_id, ts)`` index finds the rows at once, but
reading those pages from disk took 0.6 to 1.4 s. Stored in ``(device_id, ts)`` order the same day is
about 300 consecutive pages (about 0.08 s cold). Re-ordering (``CLUSTER``) rewrites a table under an
exclusive lock, which is impossible for one table holding a year that is written all the time, and
cheap for one month that no longer receives fixes: hence partitions by month, and ``CLUSTER`` of each
month once no fix can land in it any more (the filter chain refuses fixes older than
:attr:`FilterConfig.max_age`). The current month stays in arrival order; it is the one in the cache.
Old months can be detached or dropped whole should a retention period be set.

Migration 0008 makes the table partitioned (PostgreSQL only; SQLite keeps one table).
:func:`maintain` runs at start-up and every few hours (:func:`inspection.gps.flows.storage_job`); on
SQLite it does nothing. Fixes outside every month partition land in ``positions_default`` and are
moved into their month when it is created, so an insert never fails for want of a partition.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from inspection.gps.filters import FilterConfig

log = logging.getLogger(__name__)

PARENT = "positions"
DEFAULT_PARTITION = "positions_default"
MONTHS_AHEAD = 2
# After its end plus this, a month receives no more fixes (older ones are refused): safe to re-order.
SETTLE = FilterConfig().max_age + timedelta(days=1)
_MONTH_NAME = re.compile(r"^positions_y(\d{4})m(\d{2})$")
_LOCK_KEY = 0x6D73_6363_7073  # one maintainer at a time across processes ("msccps")


@dataclass(frozen=True)
class MonthPartition:
    """One month partition of ``positions``; ``ordered`` once it was re-ordered by device."""

    name: str
    month: datetime
    ordered: bool

    @property
    def end(self) -> datetime:
        """The first instant after the month."""
        return next_month(self.month)


@dataclass
class MaintenanceReport:
    """What :func:`maintain` did."""

    created: list[str] = field(default_factory=list)
    moved_from_default: int = 0
    ordered: list[str] = field(default_factory=list)


def month_start(ts: datetime) -> datetime:
    """The first instant (UTC) of ``ts``'s month."""
    return ts.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    """The first instant of the month after ``month`` (a month start)."""
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def partition_name(month: datetime) -> str:
    """``positions_yYYYYmMM``."""
    return f"positions_y{month.year:04d}m{month.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL once migration 0008 made ``positions`` partitioned."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t))"),
        {"t": PARENT},
    ).scalar()
    return bool(found)


def month_partitions(conn: Connection) -> list[MonthPartition]:
    """The month partitions of ``positions``, oldest first (partitions named otherwise are ignored)."""
    rows = conn.execute(
        text(
            "SELECT c.relname,"
            " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisclustered)"
            " FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    )
    found = []
    for name, ordered in rows:
        match = _MONTH_NAME.match(name)
        if match:
            month = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            found.append(MonthPartition(name=name, month=month, ordered=bool(ordered)))
    return sorted(found, key=lambda p: p.month)


def create_month(conn: Connection, month: datetime) -> tuple[bool, int]:
    """Create the partition of ``month`` unless it exists, moving its fixes out of the default
    partition first; returns (created, fixes moved). Runs in the caller's transaction."""
    month = month_start(month)
    name = partition_name(month)
    if conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar():
        return False, 0
    end = next_month(month)
    # Built apart and attached: a month's fixes that fell into the default partition move with it.
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    # Table names come from constants and digits; the values are bound.
    move = (
        "WITH moved AS (DELETE FROM {0} WHERE ts >= :lo AND ts < :hi RETURNING *)"
        " INSERT INTO {1} SELECT * FROM moved"
    )
    moved = conn.execute(text(move.format(DEFAULT_PARTITION, name)), {"lo": month, "hi": end}).rowcount
    conn.execute(
        text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    return True, max(moved, 0)


def order_month(conn: Connection, partition: MonthPartition) -> None:
    """Rewrite one month in ``(device_id, ts)`` order (``CLUSTER``; an exclusive lock on that month
    for the rewrite, about a minute for 10 M fixes), then refresh its statistics."""
    index = conn.execute(
        text(
            "SELECT i.indexrelid::regclass::text"
            " FROM pg_inherits h JOIN pg_index i ON i.indexrelid = h.inhrelid"
            " WHERE h.inhparent = to_regclass('ix_positions_device_ts') AND i.indrelid = to_regclass(:n)"
        ),
        {"n": partition.name},
    ).scalar()
    if index is None:
        raise RuntimeError(f"{partition.name} has no (device_id, ts) index")
    conn.execute(text(f"CLUSTER {partition.name} USING {index}"))
    conn.execute(text(f"ANALYZE {partition.name}"))


def maintain(
    engine: Engine, *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> MaintenanceReport:
    """Create month partitions up to ``months_ahead`` after ``now``'s month (and any month that has fixes
    in the default partition), then re-order the closed months that are not yet (oldest first, one
    transaction each). Nothing to do on SQLite or before migration 0008."""
    report = MaintenanceReport()
    at = now or datetime.now(UTC)
    current = month_start(at)
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return report
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        stray = conn.execute(
            text(f"SELECT DISTINCT date_trunc('month', ts, 'UTC') FROM {DEFAULT_PARTITION}")  # noqa: S608
        )
        months = {month_start(m) for (m,) in stray}
        month = current
        for _ in range(months_ahead + 1):
            months.add(month)
            month = next_month(month)
        for month in sorted(months):
            created, moved = create_month(conn, month)
            if created:
                report.created.append(partition_name(month))
                report.moved_from_default += moved
        closed = [p.name for p in month_partitions(conn) if not p.ordered and p.end + SETTLE <= at]
    for name in closed:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            # Another process may have ordered it while this one waited for the lock.
            partition = next((p for p in month_partitions(conn) if p.name == name and not p.ordered), None)
            if partition is None:
                continue
            order_month(conn, partition)
        report.ordered.append(name)
    if report.created or report.ordered:
        log.info(
            "positions storage: created %s (%s fixes moved from the default partition), ordered %s",
            report.created,
            report.moved_from_default,
            report.ordered,
        )
    return report
