"""API schemas of the events out."""

from __future__ import annotations

from pydantic import BaseModel


class OutboxOut(BaseModel):
    """One target of the events out and how it is doing."""

    target: str
    backlog: int
    delivered: int
    dropped: int
    last_error: str | None
