"""API schemas of alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["detector", "camera_health", "lab", "public", "manual", "simulated"]
SOURCES: tuple[Source, ...] = ("detector", "camera_health", "lab", "public", "manual", "simulated")

ViolationCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{1,31}$",
        description="violation type, e.g. no_mask, no_hat, rodent, camera_offline, lab_failed",
    ),
]


class AlertOut(BaseModel):
    """A stored alert; ``status`` is the state of its case (``unattached`` when it has none)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    ts: datetime
    received_at: datetime
    violation: str
    source: str
    score: float | None
    validated: bool
    camera_id: str | None
    restaurant_id: str | None
    street_id: str | None
    evidence_url: str | None
    raw_evidence_url: str | None = None  # the same frame without the detector's boxes
    note: str | None
    reported_by: str | None
    case_id: int | None
    status: str = "unattached"


class ManualAlertIn(BaseModel):
    """A hotline call or walk-in complaint entered by a supervisor."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    restaurant_id: str = Field(min_length=1, max_length=64)
    violation: ViolationCode
    note: str = Field(min_length=1, max_length=2000, description="what was reported, by whom")


class ManualAlertAccepted(BaseModel):
    """The manual alert entered the pipeline; ``alert_id``/``case_id`` are set once it is stored."""

    id: str = Field(description="the event id of the alert (unique)")
    alert_id: int | None = None
    case_id: int | None = None
