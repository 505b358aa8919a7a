"""ORM models of field tasks, their append-only audit trail and their photos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.audit import AuditRow, append_only
from command_center.database.core import Base, UtcDateTime


class FieldTask(Base):
    """One visit an inspector is asked to make to one restaurant, usually for a case.

    ``version`` grows with every transition, which is written ``WHERE id = ? AND version = ?``: of two
    racing actions (the inspector submits while the supervisor cancels) exactly one wins.
    """

    __tablename__ = "field_tasks"
    __table_args__ = (
        Index("ix_field_tasks_inspector_state", "inspector_id", "state"),
        Index("ix_field_tasks_street_state", "street_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id"))
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"))
    inspector_id: Mapped[str] = mapped_column(ForeignKey("inspectors.id"))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    instructions: Mapped[str | None] = mapped_column(String(2000))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    arrival: Mapped[str | None] = mapped_column(String(16))  # "geofence" | "manual"
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # "compliant" | "violation"
    checklist: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    findings: Mapped[str | None] = mapped_column(String(4000))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TaskAudit(AuditRow, Base):
    """One recorded step of a task: who did what, when, from which state to which. Append-only."""

    __tablename__ = "task_audit"

    task_id: Mapped[int] = mapped_column(ForeignKey("field_tasks.id"), index=True)


append_only(TaskAudit, "task audit")


class TaskPhoto(Base):
    """A photo taken on site. The file lives once under the data dir's ``photos/`` by its sha256; the
    same picture uploaded twice to one task (a phone retrying) is one row."""

    __tablename__ = "task_photos"
    __table_args__ = (UniqueConstraint("task_id", "sha256", name="uq_task_photos_task_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("field_tasks.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
