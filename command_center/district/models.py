"""ORM models of the district registry: streets, restaurants (business entities), labs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base, UtcDateTime
from config.clock import utcnow


class Street(Base):
    """A street (subdistrict) office; the unit of scoping for supervisors."""

    __tablename__ = "streets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    polygon: Mapped[list[Any]] = mapped_column(JSON)


class Restaurant(Base):
    """A business entity under supervision, from the district config or the business registry."""

    __tablename__ = "restaurants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    licence_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32), default="restaurant")
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="config")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Lab(Base):
    """A food-testing room or test vehicle."""

    __tablename__ = "labs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    street_id: Mapped[str | None] = mapped_column(ForeignKey("streets.id"))
    vehicle_id: Mapped[str | None] = mapped_column(String(64))
