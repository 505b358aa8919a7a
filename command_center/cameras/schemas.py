"""API schemas of cameras. There is deliberately no field that could carry the RTSP credentials."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CameraOut(BaseModel):
    """A camera and its last known health."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_kind: str
    owner_id: str
    restaurant_id: str | None
    street_id: str | None
    url: str
    analysis_interval_s: float
    enabled: bool
    state: str
    state_message: str | None
    state_changed_at: datetime | None
