"""HTTP views of cameras (never the RTSP credentials)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse

from command_center.cameras import service
from command_center.cameras.models import Camera
from command_center.cameras.schemas import CameraOut
from command_center.deps import ContextDep, PrincipalDep, SessionDep
from stream_ingest.frames import EvidenceStore
from stream_ingest.main import evidence_dir, snapshot_dir

router = APIRouter(tags=["cameras"])


def _out(camera: Camera) -> CameraOut:
    return CameraOut(
        id=camera.id,
        owner_kind=camera.owner_kind,
        owner_id=camera.owner_id,
        restaurant_id=camera.restaurant_id,
        street_id=camera.street_id,
        url=camera.url_redacted,
        analysis_interval_s=camera.analysis_interval_s,
        enabled=camera.enabled,
        state=camera.state,
        state_message=camera.state_message,
        state_changed_at=camera.state_changed_at,
    )


@router.get("/api/cameras")
def list_cameras(
    session: SessionDep,
    principal: PrincipalDep,
    street: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query(pattern="^(online|degraded|offline|unknown)$")] = None,
) -> list[CameraOut]:
    """Cameras with their state, scoped to the caller's street."""
    cameras = service.list_cameras(session, principal=principal, street_id=street, state=state)
    return [_out(c) for c in cameras]


@router.get("/api/cameras/{camera_id}")
def get_camera(camera_id: str, session: SessionDep, principal: PrincipalDep) -> CameraOut:
    """One camera; 403 outside the caller's street, 404 if unknown."""
    camera = service.get_camera(session, principal=principal, camera_id=camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id!r}")
    return _out(camera)


@router.get("/api/cameras/{camera_id}/snapshot.jpg", response_class=FileResponse)
def camera_snapshot(
    camera_id: str, session: SessionDep, principal: PrincipalDep, ctx: ContextDep
) -> FileResponse:
    """The camera's latest analysed picture (JPEG, at most 640 px wide), as the ingest worker left it."""
    camera = service.get_camera(session, principal=principal, camera_id=camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id!r}")
    path = snapshot_dir(ctx.settings) / f"{camera.id}.jpg"
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no picture from camera {camera_id!r} yet")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


@router.get("/api/evidence/{name}", response_class=FileResponse)
def evidence(name: str, principal: PrincipalDep, ctx: ContextDep) -> FileResponse:
    """An evidence picture by its content-hash name (immutable, so it may be cached)."""
    path = EvidenceStore(evidence_dir(ctx.settings)).path_of(name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evidence {name!r}")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=31536000"})
