"""API schemas of the risk ranking."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RiskOut(BaseModel):
    """A restaurant's risk score and what it is made of (formula: ``command_center/risk/service.py``)."""

    rank: int
    restaurant_id: str
    name: str
    street_id: str
    score: float
    confirmed_violations: int
    by_violation: dict[str, int]
    lab_failures: int
    camera_findings: int
    missed_deadlines: int
    last_finding_at: datetime | None
