"""API schemas of the detector overview."""

from __future__ import annotations

from pydantic import BaseModel


class ModelInfo(BaseModel):
    """One configured model and, when it was evaluated, its held-out metrics."""

    name: str
    type: str
    enabled: bool
    input_size: int
    classes: list[str]
    violations: dict[str, str]
    validated: bool
    evaluation: dict[str, object] | None = None


class ViolationInfo(BaseModel):
    """One violation type: where its alerts come from and whether that was validated on real data."""

    violation: str
    validated: bool
    sources: list[str]
    confirm: str  # the temporal rule in words, e.g. "3 of 5 analysed frames"
    note: str | None = None


class DetectorOverview(BaseModel):
    """The detector configuration as users need to judge its alerts."""

    violations: list[ViolationInfo]
    models: list[ModelInfo]
    motion_gating: bool
