"""ORM models of inspectors and test vehicles (mirrors of the district config)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base


class Inspector(Base):
    """A field inspector with a mobile enforcement terminal."""

    __tablename__ = "inspectors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)


class Vehicle(Base):
    """A food-testing vehicle with a GPS tracker."""

    __tablename__ = "vehicles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
