"""HTTP views of recordings: segment lists with gaps, segment files and alert clips (range requests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from command_center.alerts import service as alerts
from command_center.auth.principal import Principal
from command_center.cameras import service as cameras
from command_center.deps import ContextDep, PrincipalDep, SessionDep
from command_center.recordings import service
from command_center.recordings.models import Segment
from command_center.recordings.schemas import RecordingsOut, SegmentOut
from config.clock import as_utc_or_none

router = APIRouter(tags=["recordings"])
MAX_SPAN = timedelta(days=2)


def _camera_in_scope(session: Session, principal: Principal, camera_id: str) -> None:
    camera = cameras.get_camera(session, principal=principal, camera_id=camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id!r}")


@router.get("/api/cameras/{camera_id}/recordings")
def recordings(
    camera_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; default 1 h before until")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; default now")] = None,
) -> RecordingsOut:
    """A camera's segments between ``since`` and ``until`` (at most 2 days), and the gaps between them."""
    end = as_utc_or_none(until) or datetime.now(UTC)
    start = as_utc_or_none(since) or end - timedelta(hours=1)
    if start >= end or end - start > MAX_SPAN:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "since must be before until, at most 2 days apart")
    _camera_in_scope(session, principal, camera_id)
    segments = service.list_segments(session, camera_id=camera_id, since=start, until=end)
    return RecordingsOut(
        camera_id=camera_id,
        since=start,
        until=end,
        segments=[
            SegmentOut(
                id=s.id,
                start=s.start,
                end=s.end,
                bytes=s.bytes,
                frames=s.frames,
                url=f"/api/recordings/{s.id}.mp4",
            )
            for s in segments
        ],
        gaps=service.gaps(segments, start, end),
    )


@router.get("/api/recordings/{segment_id}.mp4", response_class=FileResponse)
def segment_file(
    segment_id: int, session: SessionDep, principal: PrincipalDep, ctx: ContextDep
) -> FileResponse:
    """One segment as MP4, with HTTP range requests so a ``<video>`` element can seek."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no segment {segment_id}")
    _camera_in_scope(session, principal, segment.camera_id)
    path = ctx.settings.recordings_dir / segment.path
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"segment {segment_id} is indexed but its file is gone"
        )
    return FileResponse(path, media_type="video/mp4")


@router.get("/api/alerts/{alert_id}/clip", response_class=FileResponse)
def alert_clip(alert_id: int, session: SessionDep, principal: PrincipalDep, ctx: ContextDep) -> FileResponse:
    """The evidence clip around an alert (T-10 s to T+20 s by default), scoped like the alert."""
    alert = alerts.get_alert(session, principal=principal, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    clip = service.clip_of_alert(session, alert_event_id=alert.event_id)
    if clip is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no clip for alert {alert_id}: not a camera alert, not recorded, or still being cut",
        )
    path = ctx.settings.clips_dir / clip.path
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the clip of alert {alert_id} was deleted")
    return FileResponse(path, media_type="video/mp4")
