"""API schemas of recordings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SegmentOut(BaseModel):
    """A playable segment (``url`` supports HTTP range requests)."""

    id: int
    start: datetime
    end: datetime
    bytes: int
    frames: int
    url: str


class Gap(BaseModel):
    """A stretch without recording (camera offline, recording off, or deleted by retention)."""

    start: datetime
    end: datetime


class RecordingsOut(BaseModel):
    """A camera's recordings in a time range: the segments and the gaps between them."""

    camera_id: str
    since: datetime
    until: datetime
    segments: list[SegmentOut]
    gaps: list[Gap]


class RetentionReport(BaseModel):
    """What a retention run deleted."""

    segments_deleted: int = 0
    clips_deleted: int = 0
    bytes_freed: int = 0
    early_deletions: int = 0  # segments dropped before their retention because of the disk budget
