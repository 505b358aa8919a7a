"""API schemas of the statistics."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class OpenCases(BaseModel):
    """Unfinished cases of one violation type in one street."""

    street_id: str
    violation: str
    count: int


class Durations(BaseModel):
    """Seconds from a case's first alert to a milestone, over the cases that reached it."""

    cases: int
    median_s: float | None
    mean_s: float | None


class Overdue(BaseModel):
    """A rectification past its deadline (still rectifying, or escalated for it)."""

    case_id: int
    restaurant_id: str
    street_id: str
    violation: str
    deadline: datetime
    state: str


class CameraFalseAlarms(BaseModel):
    """How often the verdict on a camera's alerts was "false alarm"."""

    camera_id: str
    judged: int
    false_alarms: int
    rate: float


class DayCount(BaseModel):
    """Alerts observed on one day (in the district's time zone)."""

    day: date
    count: int


class Overview(BaseModel):
    """What the screens show about cases and alerts, for the caller's scope."""

    generated_at: datetime
    street_id: str | None
    days: int
    open_cases: list[OpenCases]
    open_by_state: dict[str, int]
    time_to_confirm: Durations
    time_to_close: Durations
    overdue_rectifications: list[Overdue]
    false_alarm_rates: list[CameraFalseAlarms]
    alerts_per_day: list[DayCount]
