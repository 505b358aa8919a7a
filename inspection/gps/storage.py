"""Tracks at year scale on PostgreSQL: ``positions`` partitioned by month, the months created ahead.

What makes a track fast is the ``(device_id, ts)`` index that carries the track's columns (migration
0009): a day of one inspector is one run of consecutive index pages, read by an index-only scan. Fixes
arrive in time order from every device at once, so without it an inspector-day at 1 fix / 5 s (17,280
rows) is spread over every heap page of that day, about 5,300 pages shared with the 19 others: 0.5 s
and more from disk, against about 0.06 s for the index-only scan (``bench/tracks.py``). Re-ordering
closed months by device (``CLUSTER``) was measured too: as fast for old months, but the month being
written stayed slow and each month needed an exclusive lock while it was rewritten.

Partitions by month keep each index and each vacuum to one month, let old months be detached or
dropped whole should a retention period be set, and keep the index-only scans index-only: every month
is vacuumed after 20,000 new fixes, so the visibility map lags by minutes, not by a fifth of a month.

Migration 0008 made the table partitioned (PostgreSQL only; SQLite keeps one table). :func:`maintain`
runs at start-up and every few hours (:func:`inspection.gps.flows.storage_job`); on SQLite it does
nothing. Fixes outside every month partition land in ``positions_default`` and move into their month
when it is created, so an insert never fails for want of a partition.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

PARENT = "positions"
DEFAULT_PARTITION = "positions_default"
MONTHS_AHEAD = 2
# Index-only scans need the visibility map: vacuum a month every this many new fixes.
VACUUM_OFTEN = "autovacuum_vacuum_insert_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0"
_MONTH_NAME = re.compile(r"^positions_y(\d{4})m(\d{2})$")
_LOCK_KEY = 0x6D73_6363_7073  # "msccps"


@dataclass(frozen=True)
class MonthPartition:
    """One month partition of ``positions``."""

    name: str
    month: datetime

    @property
    def end(self) -> datetime:
        """The first instant after the month."""
        return next_month(self.month)


@dataclass
class MaintenanceReport:
    """What :func:`maintain` did."""

    created: list[str] = field(default_factory=list)
    moved_from_default: int = 0


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
            "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid"
            " WHERE h.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    )
    found = []
    for (name,) in rows:
        match = _MONTH_NAME.match(name)
        if match:
            found.append(
                MonthPartition(name=name, month=datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC))
            )
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
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS) WITH ({VACUUM_OFTEN})"))
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


def maintain(
    engine: Engine, *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> MaintenanceReport:
    """Create the month partitions up to ``months_ahead`` after ``now``'s month, and those of any month
    that has fixes in the default partition (moving them in). Nothing to do on SQLite or before
    migration 0008."""
    report = MaintenanceReport()
    current = month_start(now or datetime.now(UTC))
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return report
        # One maintainer at a time across processes.
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
    if report.created:
        log.info(
            "positions storage: created %s (%s fixes moved from the default partition)",
            report.created,
            report.moved_from_default,
        )
    return report
