"""ORM model of a stored GPS fix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base, UtcDateTime
from config.clock import utcnow


class Position(Base):
    """One accepted fix of a device; (device_id, ts) is the access path for tracks. On PostgreSQL the
    table is partitioned by month (migration 0008, :mod:`inspection.gps.storage`) and the index carries
    the columns a track shows, so that reading one is an index-only scan (migration 0009)."""

    __tablename__ = "positions"
    __table_args__ = (
        Index(
            "ix_positions_device_ts",
            "device_id",
            "ts",
            postgresql_include=["lat", "lon", "speed_kmh", "bearing", "accuracy", "battery"],
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    device_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    bearing: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Visit(Base):
    """An inspector's device inside a restaurant's geofence, from the first fix inside to the last.

    ``left_at`` stays empty while the device is still inside; the duration is ``left_at - arrived_at``.
    """

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_inspector_arrived", "inspector_id", "arrived_at"),
        Index("ix_visits_restaurant_arrived", "restaurant_id", "arrived_at"),
        Index("ix_visits_device_open", "device_id", "left_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    inspector_id: Mapped[str] = mapped_column(ForeignKey("inspectors.id"))
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id"))
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"))
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PendingDevice(Base):
    """A device id that reported without being registered: held for a district admin's decision.

    ``state`` is ``pending`` (its fixes are held), ``approved`` (it reports for ``owner_kind``/``owner_id``
    from now on, and its held fixes were replayed) or ``rejected`` (its fixes are refused).
    """

    __tablename__ = "pending_devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    held: Mapped[int] = mapped_column(Integer, default=0)
    overflow: Mapped[int] = mapped_column(Integer, default=0)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    owner_kind: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(String(500))


class HeldPosition(Base):
    """A fix of a pending device, kept until the device is approved (replayed) or rejected (deleted)."""

    __tablename__ = "held_positions"
    __table_args__ = (Index("ix_held_positions_device_ts", "device_id", "ts"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    device_id: Mapped[str] = mapped_column(ForeignKey("pending_devices.device_id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    bearing: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    battery: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
