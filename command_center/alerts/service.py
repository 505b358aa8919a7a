"""Alert service: store each ``alert.created`` event once, locate it, and list what a caller may see.
Plain typed functions; no HTTP here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from command_center.alerts.models import Alert
from command_center.alerts.schemas import SOURCES, AlertOut
from command_center.auth.principal import Principal
from command_center.cameras.models import Camera
from command_center.cases import lifecycle
from command_center.cases.models import Case
from command_center.district.models import Restaurant, Street
from command_center.events.schemas import AlertCreated

log = logging.getLogger(__name__)

CAMERA_HEALTH = frozenset({"camera_offline", "camera_tampered"})
LAB_FAILED = "lab_failed"


def source_of(event: AlertCreated) -> str:
    """Where an alert comes from: a declared ``source`` field, else what its violation implies."""
    declared = (event.model_extra or {}).get("source")
    if declared in SOURCES:
        return str(declared)
    if event.violation in CAMERA_HEALTH:
        return "camera_health"
    if event.violation == LAB_FAILED:
        return "lab"
    return "detector"


@dataclass(frozen=True)
class Location:
    """Where an alert happened, as far as the database knows it."""

    camera_id: str | None
    restaurant_id: str | None
    street_id: str | None


def locate(session: Session, *, event: AlertCreated) -> Location:
    """The alert's camera, restaurant and street, filled in from the cameras table when the event lacks
    them. Ids the database does not know are dropped (and logged) rather than stored dangling."""
    camera = session.get(Camera, event.camera_id) if event.camera_id else None
    restaurant_id = event.restaurant_id or (camera.restaurant_id if camera else None)
    street_id = event.street_id or (camera.street_id if camera else None)
    restaurant = session.get(Restaurant, restaurant_id) if restaurant_id else None
    if restaurant_id and restaurant is None:
        log.warning("alert %s names unknown restaurant %s; stored without it", event.id, restaurant_id)
        restaurant_id = None
    if restaurant is not None:
        # The registry is the authority on which street a restaurant is in.
        street_id = restaurant.street_id
    elif street_id and session.get(Street, street_id) is None:
        log.warning("alert %s names unknown street %s; stored without it", event.id, street_id)
        street_id = None
    return Location(event.camera_id, restaurant_id, street_id)


def store_alert(session: Session, *, event: AlertCreated, now: datetime) -> Alert | None:
    """Store the alert of ``event``; None when that event id is stored already (a replay changes nothing).

    Two servers storing the same event at once make the unique ``event_id`` refuse one insert
    (``IntegrityError`` at flush); the caller retries, and the retry finds the stored alert.
    """
    if session.scalar(select(Alert.id).where(Alert.event_id == event.id)) is not None:
        return None
    where = locate(session, event=event)
    extra = event.model_extra or {}
    alert = Alert(
        event_id=event.id,
        ts=event.ts,
        received_at=now,
        violation=event.violation,
        source=source_of(event),
        score=event.score,
        validated=event.validated,
        camera_id=where.camera_id,
        restaurant_id=where.restaurant_id,
        street_id=where.street_id,
        evidence_url=event.evidence_url,
        raw_evidence_url=_text(extra.get("raw_evidence_url"), 500),
        detections=_detections(extra),
        note=_text(extra.get("note"), 2000),
        reported_by=_text(extra.get("reported_by"), 64),
    )
    session.add(alert)
    session.flush()
    return alert


def _detections(extra: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The confirmed sightings of a detector alert (``detections``: label, box in [0, 1], score,
    source), checked item by item; a malformed item from a producer is dropped, not stored."""
    items = extra.get("detections")
    if not isinstance(items, list):
        return None
    out = []
    for item in items[:50]:
        if not isinstance(item, dict):
            continue
        box, label, score = item.get("box"), item.get("label"), item.get("score")
        if (
            isinstance(label, str)
            and isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, int | float) and 0 <= v <= 1 for v in box)
            and box[0] <= box[2]
            and box[1] <= box[3]
        ):
            out.append(
                {
                    "label": label[:64],
                    "box": [float(v) for v in box],
                    "score": float(score) if isinstance(score, int | float) else None,
                    "source": str(item.get("source", "model"))[:16],
                }
            )
    return out or None


def _text(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def list_alerts(
    session: Session,
    *,
    principal: Principal,
    street_id: str | None = None,
    violation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    restaurant_id: str | None = None,
    camera_id: str | None = None,
    event_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AlertOut], int]:
    """Alerts the caller may see, newest first, filtered; returns (page, total).

    ``status`` is a case state, ``open`` (its case is not final) or ``unattached``. Asking for another
    street than one's own raises OutOfScopeError.
    """
    stmt = select(Alert, Case.state).outerjoin(Case, Alert.case_id == Case.id)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Alert.street_id == street_id)
    stmt = _scoped(stmt, principal)
    for column, value in (
        (Alert.violation, violation),
        (Alert.restaurant_id, restaurant_id),
        (Alert.camera_id, camera_id),
        (Alert.event_id, event_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(Alert.ts >= since)
    if until is not None:
        stmt = stmt.where(Alert.ts < until)
    if status == "unattached":
        stmt = stmt.where(Alert.case_id.is_(None))
    elif status == "open":
        stmt = stmt.where(Case.state.in_(lifecycle.OPEN))
    elif status is not None:
        stmt = stmt.where(Case.state == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Alert.ts.desc(), Alert.id.desc()).limit(limit).offset(offset))
    return [_out(alert, state) for alert, state in rows], total


def _scoped(stmt: Select[Alert, str], principal: Principal) -> Select[Alert, str]:
    scope = principal.street_scope
    if scope is None:
        return stmt
    # Alerts without a street (a test vehicle's camera) are district-wide, like cameras without one.
    return stmt.where(Alert.street_id.in_(scope) | Alert.street_id.is_(None))


def get_alert(session: Session, *, principal: Principal, alert_id: int) -> AlertOut | None:
    """One alert; None if unknown. Raises OutOfScopeError outside the caller's street."""
    row = session.execute(
        select(Alert, Case.state).outerjoin(Case, Alert.case_id == Case.id).where(Alert.id == alert_id)
    ).first()
    if row is None:
        return None
    alert, state = row
    principal.require_street(alert.street_id, f"alert {alert_id}")
    return _out(alert, state)


def alerts_of_case(session: Session, *, case_id: int, state: str) -> list[AlertOut]:
    """The alerts collected by one case, oldest first."""
    alerts = session.scalars(select(Alert).where(Alert.case_id == case_id).order_by(Alert.ts, Alert.id))
    return [_out(alert, state) for alert in alerts]


def _out(alert: Alert, state: str | None) -> AlertOut:
    return AlertOut.model_validate(alert).model_copy(update={"status": state or "unattached"})


def find_restaurant(session: Session, *, restaurant_id: str) -> Restaurant | None:
    """The restaurant a manual alert names; None if unknown."""
    return session.get(Restaurant, restaurant_id)


def stored_ids(session: Session, *, event_id: str) -> tuple[int, int | None] | None:
    """(alert id, case id) of the alert stored for ``event_id``, or None while it is not stored yet."""
    row = session.execute(select(Alert.id, Alert.case_id).where(Alert.event_id == event_id)).first()
    return None if row is None else (row[0], row[1])


def alerts_in_scope(
    session: Session, *, principal: Principal, street_id: str | None, since: datetime
) -> Sequence[datetime]:
    """Times of the alerts since ``since`` that the caller may see (for the per-day trend)."""
    stmt = select(Alert.ts).where(Alert.ts >= since)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Alert.street_id == street_id)
    scope = principal.street_scope
    if scope is not None:
        stmt = stmt.where(Alert.street_id.in_(scope) | Alert.street_id.is_(None))
    return session.scalars(stmt).all()
