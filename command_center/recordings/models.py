"""ORM models of recorded segments and evidence clips (the files live under the data dir)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.core import Base, UtcDateTime
from config.clock import utcnow


class Segment(Base):
    """One MP4 segment of a camera's continuous recording; ``path`` is relative to recordings/."""

    __tablename__ = "recording_segments"
    __table_args__ = (Index("ix_recording_segments_camera_start", "camera_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    path: Mapped[str] = mapped_column(String(500), unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    frames: Mapped[int] = mapped_column(Integer)


class EvidenceClip(Base):
    """A clip cut around an alert by packet copy; kept as long as its case plus a grace period."""

    __tablename__ = "evidence_clips"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_event_id: Mapped[str] = mapped_column(String(128), unique=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    path: Mapped[str] = mapped_column(String(500))
    bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
