"""API schemas of dispatch proposals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Candidate(BaseModel):
    """An available inspector and how far their last fix is from the restaurant."""

    inspector_id: str
    name: str
    device_id: str
    distance_m: float
    last_fix_at: datetime
    lat: float
    lon: float


class OfflineInspector(BaseModel):
    """An inspector of the street not proposed because their device stopped reporting."""

    inspector_id: str
    name: str
    last_fix_at: datetime | None


class DispatchOut(BaseModel):
    """``GET /api/cases/{id}/dispatch``: nearest first; assign with the case action ``assign``."""

    case_id: int
    restaurant_id: str
    street_id: str
    lat: float
    lon: float
    distance: str = Field(
        "great-circle (haversine) from the last fix; not road travel distance",
        description="how distance_m is measured",
    )
    offline_after_s: int
    candidates: list[Candidate]
    offline: list[OfflineInspector]
