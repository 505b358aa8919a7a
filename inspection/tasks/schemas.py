"""API schemas of field tasks, their findings, photos and audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from command_center.cases.schemas import AuditOut
from inspection.tasks.lifecycle import TaskAction

CHECKLIST: dict[str, str] = {
    "licence_displayed": "Business and food-handling licences displayed and valid",
    "staff_hygiene": "Staff wear hats and masks, hands washed, health certificates held",
    "pest_control": "No signs of rodents or insects; openings screened",
    "food_storage": "Food covered, raw and cooked apart, off the floor",
    "cold_chain": "Refrigeration at or below 5 °C, freezers at or below -18 °C",
    "cleaning_records": "Cleaning and disinfection of tableware recorded",
    "additives": "Food additives recorded and stored apart",
    "waste": "Kitchen waste in closed bins, removed daily",
}
"""The on-site checklist: item key -> what the inspector checks."""

Verdict = Literal["ok", "fail", "na"]
Outcome = Literal["compliant", "violation"]


class TaskIn(BaseModel):
    """``POST /api/tasks``: a visit for a case (its restaurant) or for a restaurant without a case."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    inspector_id: str = Field(min_length=1, max_length=64)
    case_id: int | None = None
    restaurant_id: str | None = Field(None, max_length=64, description="when the visit is not for a case")
    instructions: str | None = Field(None, max_length=2000)
    due_at: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset")

    @model_validator(mode="after")
    def _target(self) -> TaskIn:
        if (self.case_id is None) == (self.restaurant_id is None):
            raise ValueError("give either case_id or restaurant_id")
        return self


class TaskActionIn(BaseModel):
    """An action on a task; ``submit`` has its own endpoint with the findings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["accept", "decline", "arrive", "cancel"]
    note: str | None = Field(None, max_length=2000, description="why; kept in the audit trail")


class FindingsIn(BaseModel):
    """``POST /api/tasks/{id}/findings``: what the inspector found; submits the task.

    For a case in re-inspection, ``compliant`` closes it and ``violation`` starts a new rectification,
    which needs ``deadline``. For a case in another state the findings are recorded on it as a comment.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome
    checklist: dict[str, Verdict] = Field(default_factory=dict, description=f"keys: {', '.join(CHECKLIST)}")
    text: str | None = Field(None, max_length=4000)
    deadline: AwareDatetime | None = Field(None, description="new rectification deadline (violation)")

    @field_validator("checklist")
    @classmethod
    def _known_items(cls, value: dict[str, Verdict]) -> dict[str, Verdict]:
        unknown = sorted(set(value) - set(CHECKLIST))
        if unknown:
            raise ValueError(
                f"unknown checklist item(s) {', '.join(unknown)} (known: {', '.join(CHECKLIST)})"
            )
        return value

    @model_validator(mode="after")
    def _explained(self) -> FindingsIn:
        if self.outcome == "violation" and not self.text and "fail" not in self.checklist.values():
            raise ValueError("a violation needs a failed checklist item or a text saying what was found")
        return self


class PhotoOut(BaseModel):
    """A stored photo; ``url`` serves it to whoever may see the task."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    sha256: str
    content_type: str
    bytes: int
    width: int
    height: int
    caption: str | None
    uploaded_by: str
    uploaded_at: datetime
    url: str = ""


# A task's audit trail has the shape of a case's: one schema serves both.
TaskAuditOut = AuditOut


class TaskOut(BaseModel):
    """A task as lists show it; ``allowed_actions`` is what its state allows next."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int | None
    restaurant_id: str
    street_id: str
    inspector_id: str
    state: str
    version: int
    instructions: str | None
    due_at: datetime | None
    created_by: str
    created_at: datetime
    accepted_at: datetime | None
    arrived_at: datetime | None
    arrival: str | None
    visit_id: int | None
    submitted_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    checklist: dict[str, str]
    findings: str | None
    updated_at: datetime
    allowed_actions: list[TaskAction] = []


class TaskDetail(TaskOut):
    """A task with its photos and audit trail (oldest first)."""

    photos: list[PhotoOut] = []
    audit: list[TaskAuditOut] = []


class ChecklistItem(BaseModel):
    """One item of the on-site checklist."""

    key: str
    label: str
