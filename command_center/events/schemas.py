"""Typed events (CONTRACT "Event payloads"). One class per fact; pixels never ride the bus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.clock import as_utc, utcnow


def _new_id() -> str:
    return uuid.uuid4().hex


class Event(BaseModel):
    """Fields every event carries: its type, a unique id for de-duplication, a UTC time and the ids it
    concerns. Subclasses add the payload of one fact; unknown fields from a newer producer are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    version: int = 1
    id: str = Field(default_factory=_new_id, min_length=1, max_length=128)
    ts: datetime = Field(default_factory=utcnow)
    camera_id: str | None = None
    restaurant_id: str | None = None
    street_id: str | None = None
    alert_id: str | None = None
    inspector_id: str | None = None

    @field_validator("ts")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    def to_json(self) -> str:
        """Serialise for the wire (bus, WebSocket, MQTT); ``ts`` is ISO 8601 UTC."""
        return self.model_dump_json(exclude_none=True)


class AlertCreated(Event):
    """A violation was detected or reported (detector, camera health, lab, public, manual)."""

    type: Literal["alert.created"] = "alert.created"
    violation: str
    score: float | None = None
    evidence_url: str | None = None
    validated: bool = True


class AlertUpdated(Event):
    """An alert changed (acknowledged, attached to a case, evidence added)."""

    type: Literal["alert.updated"] = "alert.updated"
    status: str | None = None


class CaseUpdated(Event):
    """A case moved to another state."""

    type: Literal["case.updated"] = "case.updated"
    case_id: str
    state: str


class CameraStatus(Event):
    """A camera's health changed (online / degraded / offline)."""

    type: Literal["camera.status"] = "camera.status"
    state: Literal["online", "degraded", "offline", "unknown"]
    message: str | None = None


class PositionEvent(Event):
    """A GPS fix of an inspector or test vehicle was accepted."""

    type: Literal["position"] = "position"
    device_id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float | None = None
    bearing: float | None = None
    accuracy: float | None = None
    battery: float | None = None


class LabResultEvent(Event):
    """A food-testing lab recorded a result."""

    type: Literal["lab_result"] = "lab_result"
    lab_id: str
    passed: bool


class TaskUpdated(Event):
    """A field task was pushed to an inspector or moved to another state."""

    type: Literal["task.updated"] = "task.updated"
    task_id: int
    state: str
    action: str
    actor: str
    case_id: int | None = None


class RecordingSegment(Event):
    """A camera's recording segment was completed (the file stays on the recording machine)."""

    type: Literal["recording.segment"] = "recording.segment"
    path: str  # relative to the data dir's recordings/ folder
    start: datetime
    end: datetime
    bytes: int
    frames: int


EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        AlertCreated,
        AlertUpdated,
        CaseUpdated,
        CameraStatus,
        PositionEvent,
        LabResultEvent,
        RecordingSegment,
        TaskUpdated,
    )
}


def parse_event(data: dict[str, Any] | str | bytes) -> Event:
    """Build the typed event for a wire payload; an unknown type stays a plain :class:`Event`.

    Raises ``pydantic.ValidationError`` when the payload is not a valid event.
    """
    if isinstance(data, str | bytes):
        return _parse_json(data)
    cls = EVENT_TYPES.get(str(data.get("type", "")), Event)
    return cls.model_validate(data)


def _parse_json(raw: str | bytes) -> Event:
    probe = Event.model_validate_json(raw)
    cls = EVENT_TYPES.get(probe.type, Event)
    return probe if cls is Event else cls.model_validate_json(raw)


KNOWN_TYPES: frozenset[str] = frozenset(EVENT_TYPES)
