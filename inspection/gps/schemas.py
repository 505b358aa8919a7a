"""API schemas of positions, tracks and inspectors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from config.clock import as_utc


class Fix(BaseModel):
    """One decoded GPS fix, whatever protocol it came in by."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64)
    ts: datetime
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float | None = Field(None, ge=0, le=2000)
    bearing: float | None = Field(None, ge=0, le=360)
    altitude: float | None = None
    accuracy: float | None = Field(None, ge=0)
    battery: float | None = Field(None, ge=0, le=100)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class BatchIn(BaseModel):
    """``POST /api/positions`` body: fixes from a vehicle gateway or a phone that buffered offline."""

    positions: list[Fix] = Field(min_length=1, max_length=10_000)


class Rejected(BaseModel):
    """A fix that was not stored, with its index in the request and the reason."""

    index: int
    device_id: str
    code: str = Field("rejected", description="filter step that dropped it: unknown_device, invalid, ...")
    reason: str


class BatchResult(BaseModel):
    """How many fixes were stored, which were not, and which of unregistered devices were held for
    approval (``GET /api/devices/pending``)."""

    accepted: int
    rejected: list[Rejected]
    held: list[Rejected] = Field(default_factory=list)


class PendingDeviceOut(BaseModel):
    """A device id that reported without being registered, and the decision on it."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    state: str
    first_seen_at: datetime
    last_seen_at: datetime
    held: int = Field(description="fixes kept for replay")
    overflow: int = Field(description="fixes refused because too many were held")
    last_lat: float | None
    last_lon: float | None
    owner_kind: str | None
    owner_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


class ApproveIn(BaseModel):
    """Whom an approved device reports for: one inspector or one vehicle."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    inspector_id: str | None = Field(None, max_length=64)
    vehicle_id: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _one_owner(self) -> ApproveIn:
        if (self.inspector_id is None) == (self.vehicle_id is None):
            raise ValueError("give either inspector_id or vehicle_id")
        return self


class RejectIn(BaseModel):
    """Why a device is rejected (kept with the decision)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=500)


class ApprovedOut(BaseModel):
    """An approved device and what became of its held fixes when they were replayed."""

    device: PendingDeviceOut
    replay: BatchResult


class PositionOut(BaseModel):
    """A stored fix."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    ts: datetime
    lat: float
    lon: float
    speed_kmh: float | None
    bearing: float | None
    accuracy: float | None
    battery: float | None


class InspectorOut(BaseModel):
    """An inspector with the last position of their terminal."""

    id: str
    name: str
    street_id: str
    device_id: str
    online: bool
    last: PositionOut | None


class VehicleOut(BaseModel):
    """A test vehicle with the last position of its tracker."""

    id: str
    name: str
    device_id: str
    online: bool
    last: PositionOut | None


class StopOut(BaseModel):
    """The device stayed within 50 m for at least 3 minutes."""

    start: datetime
    end: datetime
    duration_s: float
    lat: float
    lon: float
    points: int


class TripOut(BaseModel):
    """Movement between two stops (or the ends of the range)."""

    start: datetime
    end: datetime
    duration_s: float
    distance_m: float
    points: int


class TrackOut(BaseModel):
    """An inspector's fixes in a time range, oldest first, with their analysis."""

    inspector_id: str
    device_id: str
    since: datetime
    until: datetime
    points: list[PositionOut]
    distance_m: float = Field(0.0, description="great-circle length of the track")
    stops: list[StopOut] = Field(default_factory=list)
    trips: list[TripOut] = Field(default_factory=list)
    polyline: list[tuple[float, float]] = Field(
        default_factory=list, description="Douglas-Peucker simplified [lat, lon] vertices (5 m tolerance)"
    )


class VisitOut(BaseModel):
    """An inspector inside a restaurant's geofence; ``left_at`` is null while still there."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    inspector_id: str
    device_id: str
    restaurant_id: str
    street_id: str
    arrived_at: datetime
    last_seen_at: datetime
    left_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float:
        """Seconds from arrival to leaving (to the last fix inside while still there)."""
        return ((self.left_at or self.last_seen_at) - self.arrived_at).total_seconds()
