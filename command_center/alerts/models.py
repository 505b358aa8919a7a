"""ORM model of an alert: one row per ``alert.created`` event, whatever its source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base, UtcDateTime
from config.clock import utcnow


class Alert(Base):
    """A detection, camera-health finding, lab failure or report; ``event_id`` makes replays harmless."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_street_ts", "street_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    violation: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    validated: Mapped[bool] = mapped_column(Boolean, default=True)
    # No foreign key: cameras dropped from the config are deleted, their alerts stay.
    camera_id: Mapped[str | None] = mapped_column(String(64), index=True)
    restaurant_id: Mapped[str | None] = mapped_column(ForeignKey("restaurants.id"), index=True)
    street_id: Mapped[str | None] = mapped_column(ForeignKey("streets.id"))
    evidence_url: Mapped[str | None] = mapped_column(String(500))
    # The unannotated frame and the boxes the detector confirmed (labels, [0, 1] coordinates): what the
    # feedback export turns into a training example once a supervisor has judged the case.
    raw_evidence_url: Mapped[str | None] = mapped_column(String(500))
    detections: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(2000))
    reported_by: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
