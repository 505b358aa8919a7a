"""API schemas of cases, their actions and audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from command_center.alerts.schemas import AlertOut
from command_center.cases.lifecycle import Action


class CaseOut(BaseModel):
    """A case as lists show it; ``allowed_actions`` is what the state machine allows next (for anyone
    with the right to act on the case)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    restaurant_id: str
    street_id: str
    violation: str
    state: str
    escalated_from: str | None
    version: int
    camera_id: str | None
    validated: bool
    alert_count: int
    opened_at: datetime
    last_alert_at: datetime
    confirmed_at: datetime | None
    notified_at: datetime | None
    deadline: datetime | None
    escalated_at: datetime | None
    closed_at: datetime | None
    missed_deadlines: int
    inspector_id: str | None
    updated_at: datetime
    allowed_actions: list[str] = []
    sources: list[str] = Field(
        [], description="where the case's alerts came from (detector, simulated, manual, ...), sorted"
    )


class AuditOut(BaseModel):
    """One step of the audit trail."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    details: dict[str, Any]


class CaseDetail(CaseOut):
    """A case with its alerts and its audit trail (oldest first)."""

    alerts: list[AlertOut] = []
    audit: list[AuditOut] = []


class CaseActionIn(BaseModel):
    """An action on a case. ``deadline`` is required by ``start_rectification``, ``inspector_id`` by
    ``assign``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Action
    note: str | None = Field(None, max_length=2000, description="why; kept in the audit trail")
    deadline: AwareDatetime | None = Field(
        None, description="ISO 8601 with a UTC offset, e.g. 2026-12-01T18:00:00+08:00"
    )
    inspector_id: str | None = Field(None, max_length=64)
