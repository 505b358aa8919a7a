"""Camera service: scoped listing and health updates from ``camera.status`` events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from command_center.cameras.models import Camera
from command_center.events.schemas import CameraStatus


def list_cameras(
    session: Session, *, principal: Principal, street_id: str | None = None, state: str | None = None
) -> Sequence[Camera]:
    """Cameras the caller may see. District-wide cameras (vehicles) are visible to every role."""
    stmt = select(Camera).order_by(Camera.id)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Camera.street_id == street_id)
    scope = principal.street_scope
    if scope is not None:
        stmt = stmt.where(Camera.street_id.in_(scope) | Camera.street_id.is_(None))
    if state is not None:
        stmt = stmt.where(Camera.state == state)
    return session.scalars(stmt).all()


def get_camera(session: Session, *, principal: Principal, camera_id: str) -> Camera | None:
    """One camera; None if unknown; OutOfScopeError outside the caller's street."""
    camera = session.get(Camera, camera_id)
    if camera is not None:
        principal.require_street(camera.street_id, f"camera {camera_id}")
    return camera


def apply_status(session: Session, *, event: CameraStatus) -> bool:
    """Record a camera's new state; False for an unknown camera or an event older than the stored one."""
    if event.camera_id is None:
        return False
    camera = session.get(Camera, event.camera_id)
    if camera is None:
        return False
    if camera.state_changed_at is not None and camera.state_changed_at > event.ts:
        return False  # a late, replayed event must not undo a newer state
    camera.state = event.state
    camera.state_message = event.message
    camera.state_changed_at = event.ts
    return True
