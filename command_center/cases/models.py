"""ORM models of cases and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from command_center.database.audit import AuditRow, append_only
from command_center.database.core import Base, UtcDateTime
from config.clock import utcnow


class Case(Base):
    """One problem (violation type) at one restaurant, from its first alert to its closing.

    ``version`` grows with every transition: a transition writes ``WHERE id = ? AND version = ?``, so of
    two racing actions exactly one wins. ``collect_key`` (``restaurant|violation``) is set on the one
    case that collects new alerts for that pair; the unique index makes a second one impossible even
    with several servers, and closing the case or a quiet window releases it.
    """

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_street_state", "street_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id"), index=True)
    street_id: Mapped[str] = mapped_column(ForeignKey("streets.id"))
    violation: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    escalated_from: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    collect_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    camera_id: Mapped[str | None] = mapped_column(String(64))
    validated: Mapped[bool] = mapped_column(Boolean, default=True)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    missed_deadlines: Mapped[int] = mapped_column(Integer, default=0)
    inspector_id: Mapped[str | None] = mapped_column(ForeignKey("inspectors.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CaseAudit(AuditRow, Base):
    """One recorded step of a case: who did what, when, from which state to which, and why.

    Append-only: the ORM refuses to update or delete a row (``append_only`` below).
    """

    __tablename__ = "case_audit"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)


append_only(CaseAudit, "case audit")
