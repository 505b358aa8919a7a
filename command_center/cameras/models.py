"""ORM model of a camera and its last known health. The RTSP URL (with credentials) stays in the
config file; the database keeps only the redacted form for display."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base, UtcDateTime


class Camera(Base):
    """One camera; ``state`` is updated from ``camera.status`` events."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(64))
    restaurant_id: Mapped[str | None] = mapped_column(ForeignKey("restaurants.id"), index=True)
    street_id: Mapped[str | None] = mapped_column(ForeignKey("streets.id"), index=True)
    url_redacted: Mapped[str] = mapped_column(String(500))
    analysis_interval_s: Mapped[float] = mapped_column(Float, default=2.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    state_message: Mapped[str | None] = mapped_column(String(500))
    state_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
