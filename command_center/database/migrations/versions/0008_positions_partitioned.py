"""positions: monthly range partitions on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 11:40:00

On PostgreSQL ``positions`` becomes a table partitioned by month of ``ts`` (``positions_yYYYYmMM``,
plus ``positions_default`` for anything outside them), with the primary key ``(id, ts)`` (a partitioned
table's unique keys must contain the partition key; ``id`` stays unique by its sequence) and the
``(device_id, ts)`` index on every partition. Existing fixes are copied over. The months from the oldest
fix to two months ahead are created here; ``inspection.gps.storage`` creates later ones ahead and
re-orders closed months by device. SQLite has no partitioning: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 2


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE positions RENAME TO positions_unpartitioned")
    op.execute(
        "ALTER TABLE positions_unpartitioned RENAME CONSTRAINT pk_positions TO pk_positions_unpartitioned"
    )
    op.execute("ALTER INDEX ix_positions_device_ts RENAME TO ix_positions_unpartitioned_device_ts")
    op.execute(
        "CREATE TABLE positions (LIKE positions_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts)"
    )
    op.execute("ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY (id, ts)")
    # The id sequence now belongs to the new table, so dropping the old one keeps it.
    op.execute("ALTER SEQUENCE positions_id_seq OWNED BY positions.id")
    op.execute("CREATE INDEX ix_positions_device_ts ON positions (device_id, ts)")
    op.execute("CREATE TABLE positions_default PARTITION OF positions DEFAULT")
    now = datetime.now(UTC)
    oldest = bind.execute(sa.text("SELECT min(ts) FROM positions_unpartitioned")).scalar()
    first = min(oldest.astimezone(UTC), now) if oldest is not None else now
    month = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while month <= last:
        following = _next_month(month)
        op.execute(
            f"CREATE TABLE positions_y{month.year:04d}m{month.month:02d} PARTITION OF positions "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
        )
        month = following
    op.execute("INSERT INTO positions SELECT * FROM positions_unpartitioned ORDER BY ts, id")
    op.execute("DROP TABLE positions_unpartitioned")
    op.execute("ANALYZE positions")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE positions_unpartitioned (LIKE positions INCLUDING DEFAULTS)")
    op.execute("INSERT INTO positions_unpartitioned SELECT * FROM positions ORDER BY ts, id")
    op.execute("ALTER SEQUENCE positions_id_seq OWNED BY positions_unpartitioned.id")
    op.execute("DROP TABLE positions")  # and its partitions
    op.execute("ALTER TABLE positions_unpartitioned RENAME TO positions")
    op.execute("ALTER TABLE positions ADD CONSTRAINT pk_positions PRIMARY KEY (id)")
    op.execute("CREATE INDEX ix_positions_device_ts ON positions (device_id, ts)")
