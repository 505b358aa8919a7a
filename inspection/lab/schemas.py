"""API schemas of lab results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.clock import as_utc


class LabResultIn(BaseModel):
    """One result as a lab posts it. ``passed`` may be left out: it is then ``measured_value <= limit``."""

    model_config = ConfigDict(extra="forbid")

    lab_id: str = Field(min_length=1, max_length=64)
    sample_id: str = Field(min_length=1, max_length=64)
    restaurant_id: str | None = Field(None, max_length=64)
    market_stall: str | None = Field(None, max_length=200, description="for samples not from a restaurant")
    item: str = Field(min_length=1, max_length=200)
    method: str = Field(min_length=1, max_length=100)
    measured_value: float = Field(allow_inf_nan=False)
    limit: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=32)
    passed: bool | None = None
    operator: str = Field(min_length=1, max_length=100)
    tested_at: datetime

    @field_validator("tested_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _where_and_verdict(self) -> LabResultIn:
        if not self.restaurant_id and not self.market_stall:
            raise ValueError("give restaurant_id or market_stall")
        if self.passed is None:
            self.passed = self.measured_value <= self.limit
        return self


class LabResultOut(BaseModel):
    """A stored result with its place in the lab's chain."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lab_id: str
    seq: int
    sample_id: str
    restaurant_id: str | None
    market_stall: str | None
    street_id: str | None
    item: str
    method: str
    measured_value: float
    limit_value: float
    unit: str
    passed: bool
    operator: str
    tested_at: datetime
    recorded_at: datetime
    recorded_by: str
    prev_hash: str
    hash: str


class CsvRow(BaseModel):
    """The outcome of one CSV line: stored (with its id and seq) or the reasons it was not."""

    line: int
    ok: bool
    id: int | None = None
    seq: int | None = None
    errors: list[str] = Field(default_factory=list)


class CsvReport(BaseModel):
    """Per-row report of a CSV upload; good rows are stored even when others are broken."""

    stored: int
    failed: int
    rows: list[CsvRow]


class ChainStatus(BaseModel):
    """Whether one lab's chain is intact, and where it first breaks."""

    lab_id: str
    ok: bool
    results: int
    first_bad_seq: int | None = None
    problem: str | None = None


class VerifyOut(BaseModel):
    """``GET /api/lab-results/verify``: every lab's chain."""

    ok: bool
    labs: list[ChainStatus]
