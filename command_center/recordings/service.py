"""Recordings service: index segments, list them with gaps, keep clips, and apply retention.

Retention, oldest first: continuous segments older than their camera's retention are deleted; then,
while recordings and clips exceed the disk budget, the oldest segments go even if younger than their
retention (counted as early deletions, which raise an alert). Evidence clips are separate files and
are never deleted while their case is open; after it closes they are kept ``clip_keep_days`` more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command_center.alerts.models import Alert
from command_center.cases.models import Case
from command_center.events.schemas import RecordingSegment
from command_center.recordings.models import EvidenceClip, Segment
from command_center.recordings.schemas import Gap, RetentionReport

__all__ = ["RetentionPolicy", "RetentionReport"]
from stream_ingest.clips import ClipInfo

log = logging.getLogger(__name__)

# Segments closer than this are continuous (keyframe boundaries and clock jitter).
GAP_TOLERANCE = timedelta(seconds=1.5)
FINISHED_CASE_STATES = frozenset({"closed", "false_alarm"})


def index_segment(session: Session, *, event: RecordingSegment) -> Segment | None:
    """Store a finished segment once (a replayed event changes nothing); None if already indexed."""
    if event.camera_id is None or session.scalar(select(Segment.id).where(Segment.path == event.path)):
        return None
    segment = Segment(
        camera_id=event.camera_id,
        start=event.start,
        end=event.end,
        path=event.path,
        bytes=event.bytes,
        frames=event.frames,
    )
    session.add(segment)
    session.flush()
    return segment


def list_segments(session: Session, *, camera_id: str, since: datetime, until: datetime) -> Sequence[Segment]:
    """Segments of a camera overlapping [since, until), oldest first."""
    return session.scalars(
        select(Segment)
        .where(Segment.camera_id == camera_id, Segment.end > since, Segment.start < until)
        .order_by(Segment.start)
    ).all()


def gaps(segments: Sequence[Segment], since: datetime, until: datetime) -> list[Gap]:
    """The stretches of [since, until) that no segment covers."""
    out: list[Gap] = []
    cursor = since
    for seg in segments:
        if seg.start - cursor > GAP_TOLERANCE:
            out.append(Gap(start=cursor, end=min(seg.start, until)))
        cursor = max(cursor, seg.end)
    if until - cursor > GAP_TOLERANCE:
        out.append(Gap(start=cursor, end=until))
    return out


def save_clip(
    session: Session, *, alert_event_id: str, camera_id: str, clip: ClipInfo, clips_dir: Path
) -> EvidenceClip:
    """Record a cut clip for an alert (replacing an earlier one for the same alert)."""
    row = session.scalar(select(EvidenceClip).where(EvidenceClip.alert_event_id == alert_event_id))
    if row is None:
        row = EvidenceClip(alert_event_id=alert_event_id, camera_id=camera_id)
        session.add(row)
    row.start, row.end, row.bytes = clip.start, clip.end, clip.bytes
    row.path = str(clip.path.relative_to(clips_dir))
    session.flush()
    return row


def clip_of_alert(session: Session, *, alert_event_id: str) -> EvidenceClip | None:
    """The clip cut for an alert, if any."""
    return session.scalar(select(EvidenceClip).where(EvidenceClip.alert_event_id == alert_event_id))


@dataclass(frozen=True)
class RetentionPolicy:
    """How long things are kept and how much disk they may use."""

    recordings_dir: Path
    clips_dir: Path
    days_for: Callable[[str], float]  # camera id -> retention days of its continuous recording
    budget_bytes: int = 0  # 0: no budget
    clip_keep_days: float = 90.0


def apply_retention(session: Session, *, policy: RetentionPolicy, now: datetime) -> RetentionReport:
    """Delete what the policy no longer keeps (files first, then their index rows)."""
    report = RetentionReport()
    for seg in session.scalars(select(Segment).order_by(Segment.start)).all():
        if seg.end < now - timedelta(days=policy.days_for(seg.camera_id)):
            _delete_segment(session, seg, policy, report)
    _delete_finished_clips(session, policy, now, report)
    if policy.budget_bytes:
        used = _used_bytes(session)
        oldest = session.scalars(select(Segment).order_by(Segment.start)).all()
        for seg in oldest:
            if used <= policy.budget_bytes:
                break
            used -= seg.bytes
            report.early_deletions += 1
            _delete_segment(session, seg, policy, report)
        if used > policy.budget_bytes:
            log.warning(
                "recordings: %s bytes over budget in evidence clips of open cases alone",
                used - policy.budget_bytes,
            )
    session.flush()
    return report


def _used_bytes(session: Session) -> int:
    segments = session.scalar(select(func.coalesce(func.sum(Segment.bytes), 0))) or 0
    clips = session.scalar(select(func.coalesce(func.sum(EvidenceClip.bytes), 0))) or 0
    return int(segments) + int(clips)


def _delete_segment(session: Session, seg: Segment, policy: RetentionPolicy, report: RetentionReport) -> None:
    (policy.recordings_dir / seg.path).unlink(missing_ok=True)
    report.segments_deleted += 1
    report.bytes_freed += seg.bytes
    session.delete(seg)


def _delete_finished_clips(
    session: Session, policy: RetentionPolicy, now: datetime, report: RetentionReport
) -> None:
    rows = session.execute(
        select(EvidenceClip, Case.state, Case.closed_at, Case.updated_at)
        .join(Alert, Alert.event_id == EvidenceClip.alert_event_id, isouter=True)
        .join(Case, Case.id == Alert.case_id, isouter=True)
    ).all()
    keep = timedelta(days=policy.clip_keep_days)
    for clip, state, closed_at, updated_at in rows:
        if state is not None and state not in FINISHED_CASE_STATES:
            continue  # evidence of an open case is never deleted
        finished = closed_at or updated_at or clip.created_at
        if finished + keep < now:
            (policy.clips_dir / clip.path).unlink(missing_ok=True)
            report.clips_deleted += 1
            report.bytes_freed += clip.bytes
            session.delete(clip)
