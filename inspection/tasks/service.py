"""Field-task service: create a task (assigning its case to the inspector), move it through its states
with an audit trail, record findings and photos, advance the case, and notice arrivals from the
geofence visits. Plain typed functions; no HTTP here.

Scoping follows the cases: a street supervisor creates and sees tasks of their street and tasks only
their street's inspectors; an inspector sees and works the tasks given to them; district admins and
the wall display see every task (the wall only watches).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, false, or_, select, update
from sqlalchemy.orm import Session

from command_center.auth.principal import OutOfScopeError, Principal
from command_center.cases import lifecycle as case_lifecycle
from command_center.cases import service as cases
from command_center.cases.models import Case
from command_center.district.models import Restaurant
from inspection.gps.models import Visit
from inspection.people.models import Inspector
from inspection.tasks import lifecycle
from inspection.tasks.lifecycle import TaskAction, TaskState
from inspection.tasks.models import FieldTask, TaskAudit, TaskPhoto
from inspection.tasks.photos import MAX_PHOTOS_PER_TASK, CheckedPhoto
from inspection.tasks.schemas import FindingsIn, TaskIn

log = logging.getLogger(__name__)

SYSTEM = "system"


class TaskInputError(ValueError):
    """The request names an unknown inspector or restaurant, or lacks what the step needs. Views: 422."""


class TaskConflictError(Exception):
    """The task or its case changed meanwhile, or the case cannot take a task now. Views: 409."""


@dataclass(frozen=True)
class Changed:
    """A task after a step, with the case the step moved (if it moved one) and how."""

    task: FieldTask
    case: Case | None = None
    case_action: str | None = None


def create(session: Session, *, principal: Principal, data: TaskIn, now: datetime) -> Changed | None:
    """Create a task and push it to its inspector; a task for a case assigns the case to them too.

    Returns None when the case is unknown. Raises OutOfScopeError (another street's case, restaurant or
    inspector), TaskInputError (unknown inspector or restaurant, due time past) or TaskConflictError
    (the case is finished or already has an open task).
    """
    if principal.read_only or principal.role not in {"district_admin", "street_supervisor"}:
        raise OutOfScopeError(f"{principal.username} ({principal.role}) may not dispatch tasks")
    inspector = session.get(Inspector, data.inspector_id)
    if inspector is None:
        raise TaskInputError(f"inspector_id: no inspector {data.inspector_id!r}")
    if data.due_at is not None and data.due_at <= now:
        raise TaskInputError(f"due_at: {data.due_at.isoformat()} is not in the future")
    case: Case | None = None
    if data.case_id is not None:
        case = cases.get_case(session, principal=principal, case_id=data.case_id)
        if case is None:
            return None
        if case.state in case_lifecycle.FINAL:
            raise TaskConflictError(f"case {case.id} is {case.state.replace('_', ' ')}: it needs no visit")
        busy = session.scalar(
            select(FieldTask.id).where(FieldTask.case_id == case.id, FieldTask.state.in_(lifecycle.OPEN))
        )
        if busy is not None:
            raise TaskConflictError(f"case {case.id} already has open task {busy}; cancel it first")
        restaurant_id, street_id = case.restaurant_id, case.street_id
    else:
        restaurant = session.get(Restaurant, data.restaurant_id)
        if restaurant is None:
            raise TaskInputError(f"restaurant_id: no restaurant {data.restaurant_id!r}")
        principal.require_street(restaurant.street_id, f"restaurant {restaurant.id}")
        restaurant_id, street_id = restaurant.id, restaurant.street_id
    principal.require_street(inspector.street_id, f"inspector {inspector.id}")
    task = FieldTask(
        case_id=case.id if case else None,
        restaurant_id=restaurant_id,
        street_id=street_id,
        inspector_id=inspector.id,
        state="assigned",
        version=1,
        instructions=data.instructions,
        due_at=data.due_at,
        created_by=principal.username,
        created_at=now,
        checklist={},
        updated_at=now,
    )
    session.add(task)
    session.flush()
    _audit(
        session, task, now=now, actor=principal.username, action="create", before=None, note=data.instructions
    )
    case_action = None
    if case is not None and case.inspector_id != inspector.id:
        case = cases.transition(
            session,
            case=case,
            action="assign",
            actor=principal.username,
            now=now,
            note=f"field task {task.id}",
            inspector_id=inspector.id,
        )
        case_action = "assign"
    log.info("task %s for %s pushed to %s by %s", task.id, restaurant_id, inspector.id, principal.username)
    return Changed(task, case if case_action else None, case_action)


def get_task(session: Session, *, principal: Principal, task_id: int) -> FieldTask | None:
    """One task; None if unknown. Raises OutOfScopeError when the caller may not see it."""
    task = session.get(FieldTask, task_id)
    if task is not None:
        _require_visible(principal, task)
    return task


def list_tasks(
    session: Session,
    *,
    principal: Principal,
    state: str | None = None,
    inspector_id: str | None = None,
    case_id: int | None = None,
    limit: int = 100,
) -> Sequence[FieldTask]:
    """Tasks the caller may see, most recently changed first; ``state`` is a state or ``open``."""
    stmt = select(FieldTask)
    if principal.role == "inspector":
        stmt = stmt.where(
            FieldTask.inspector_id == principal.inspector_id if principal.inspector_id else false()
        )
    elif principal.street_scope is not None:
        stmt = stmt.where(FieldTask.street_id.in_(principal.street_scope))
    if state == "open":
        stmt = stmt.where(FieldTask.state.in_(lifecycle.OPEN))
    elif state is not None:
        stmt = stmt.where(FieldTask.state == state)
    if inspector_id is not None:
        stmt = stmt.where(FieldTask.inspector_id == inspector_id)
    if case_id is not None:
        stmt = stmt.where(FieldTask.case_id == case_id)
    order = (FieldTask.updated_at.desc(), FieldTask.id.desc())
    return session.scalars(stmt.order_by(*order).limit(limit)).all()


def act(
    session: Session,
    *,
    principal: Principal,
    task_id: int,
    action: TaskAction,
    now: datetime,
    note: str | None,
) -> FieldTask | None:
    """Accept, decline, arrive (by hand) or cancel a task; None if unknown. ``submit`` is :func:`submit`.

    Raises OutOfScopeError, IllegalTaskTransitionError or TaskConflictError.
    """
    task = session.get(FieldTask, task_id)
    if task is None:
        return None
    _require_may_act(principal, task, action)
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if action == "accept":
        values["accepted_at"] = now
    if action == "arrive":
        visit = find_visit(session, task=task)
        values.update(
            arrived_at=now, arrival="geofence" if visit else "manual", visit_id=visit.id if visit else None
        )
        details.update(arrival=values["arrival"], visit_id=values["visit_id"])
    return _transition(
        session, task, action, actor=principal.username, now=now, note=note, values=values, details=details
    )


def submit(
    session: Session, *, principal: Principal, task_id: int, findings: FindingsIn, now: datetime
) -> Changed | None:
    """Record the findings, submit the task and move its case on; None if the task is unknown.

    A case in re-inspection is closed (compliant) or gets a new rectification deadline (violation);
    a case in another open state gets the findings as a comment. The task's proof of presence is the
    geofence visit at the restaurant during the task, when there is one.
    """
    task = session.get(FieldTask, task_id)
    if task is None:
        return None
    _require_may_act(principal, task, "submit")
    lifecycle.next_state(cast(TaskState, task.state), "submit")  # refuse before touching the case
    visit = session.get(Visit, task.visit_id) if task.visit_id else find_visit(session, task=task)
    photos = session.scalars(select(TaskPhoto.sha256).where(TaskPhoto.task_id == task.id)).all()
    case = session.get(Case, task.case_id) if task.case_id is not None else None
    case_action: str | None = None
    if case is not None and case.state not in case_lifecycle.FINAL:
        base = case.escalated_from if case.state == "escalated" else case.state
        if base == "reinspection":
            case_action = "close" if findings.outcome == "compliant" else "start_rectification"
        else:
            case_action = "comment"
        if case_action == "start_rectification" and findings.deadline is None:
            raise TaskInputError(
                f"deadline: case {case.id} is in re-inspection; a violation starts a new rectification "
                "and needs a deadline"
            )
    summary = _summary(task, findings, visit, len(photos))
    details: dict[str, Any] = {
        "outcome": findings.outcome,
        "visit_id": visit.id if visit else None,
        "photos": list(photos),
        "case_action": case_action,
    }
    values: dict[str, Any] = {
        "outcome": findings.outcome,
        "checklist": dict(findings.checklist),
        "findings": findings.text,
        "submitted_at": now,
        "visit_id": visit.id if visit else None,
    }
    task = _transition(
        session,
        task,
        "submit",
        actor=principal.username,
        now=now,
        note=summary,
        values=values,
        details=details,
    )
    if case is not None and case_action is not None:
        try:
            case = cases.transition(
                session,
                case=case,
                action=cast(case_lifecycle.Action, case_action),
                actor=principal.username,
                now=now,
                note=summary,
                deadline=findings.deadline,
            )
        except cases.ActionInputError as exc:
            raise TaskInputError(str(exc)) from exc
        except cases.CaseConflictError as exc:
            raise TaskConflictError(str(exc)) from exc
    return Changed(task, case if case_action else None, case_action)


def _summary(task: FieldTask, findings: FindingsIn, visit: Visit | None, photos: int) -> str:
    failed = [k for k, v in findings.checklist.items() if v == "fail"]
    parts = [f"field task {task.id}: {findings.outcome}"]
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    if visit is not None:
        end = visit.left_at or visit.last_seen_at
        parts.append(f"on site {int((end - visit.arrived_at).total_seconds() // 60)} min (visit {visit.id})")
    else:
        parts.append("no geofence visit recorded")
    parts.append(f"{photos} photo(s)")
    if findings.text:
        parts.append(findings.text)
    return "; ".join(parts)[:2000]


def find_visit(session: Session, *, task: FieldTask) -> Visit | None:
    """The inspector's geofence visit at the task's restaurant that was going on after they accepted
    (or, before accepting, after the task was created); the latest one."""
    since = task.accepted_at or task.created_at
    return session.scalars(
        select(Visit)
        .where(
            Visit.inspector_id == task.inspector_id,
            Visit.restaurant_id == task.restaurant_id,
            or_(Visit.left_at.is_(None), Visit.left_at >= since),
        )
        .order_by(Visit.arrived_at.desc())
        .limit(1)
    ).first()


def mark_arrivals(session: Session, *, inspector_id: str, now: datetime) -> list[FieldTask]:
    """Move the inspector's accepted tasks whose restaurant they are visiting (geofence) to ``on_site``."""
    arrived: list[FieldTask] = []
    accepted = session.scalars(
        select(FieldTask).where(FieldTask.inspector_id == inspector_id, FieldTask.state == "accepted")
    ).all()
    for task in accepted:
        visit = find_visit(session, task=task)
        if visit is None:
            continue
        values = {"arrived_at": visit.arrived_at, "arrival": "geofence", "visit_id": visit.id}
        try:
            arrived.append(
                _transition(
                    session,
                    task,
                    "arrive",
                    actor=SYSTEM,
                    now=now,
                    note=None,
                    values=values,
                    details={"arrival": "geofence", "visit_id": visit.id},
                )
            )
        except TaskConflictError:
            log.info("task %s changed while marking the arrival; left as it is", task.id)
    return arrived


def add_photo(
    session: Session,
    *,
    principal: Principal,
    task_id: int,
    photo: CheckedPhoto,
    caption: str | None,
    now: datetime,
) -> TaskPhoto | None:
    """Record a stored photo on a task (the same picture twice is one row); None if the task is unknown.

    Only the task's inspector adds photos, between accepting and submitting.
    """
    task = session.get(FieldTask, task_id)
    if task is None:
        return None
    _require_assignee(principal, task)
    if task.state not in lifecycle.PHOTO_STATES:
        raise lifecycle.IllegalTaskTransitionError(
            f"photos are added after accepting and before submitting; task {task.id} is {task.state}"
        )
    existing = session.scalar(
        select(TaskPhoto).where(TaskPhoto.task_id == task.id, TaskPhoto.sha256 == photo.sha256)
    )
    if existing is not None:
        return existing
    count = len(session.scalars(select(TaskPhoto.id).where(TaskPhoto.task_id == task.id)).all())
    if count >= MAX_PHOTOS_PER_TASK:
        raise TaskConflictError(f"task {task.id} has {count} photos already, the most one task keeps")
    row = TaskPhoto(
        task_id=task.id,
        sha256=photo.sha256,
        content_type=photo.content_type,
        bytes=len(photo.data),
        width=photo.width,
        height=photo.height,
        caption=caption,
        uploaded_by=principal.username,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    return row


def photos_of(session: Session, *, task_id: int) -> Sequence[TaskPhoto]:
    """A task's photos, oldest first."""
    return session.scalars(select(TaskPhoto).where(TaskPhoto.task_id == task_id).order_by(TaskPhoto.id)).all()


def audit_trail(session: Session, *, task_id: int) -> Sequence[TaskAudit]:
    """A task's audit rows, oldest first."""
    return session.scalars(
        select(TaskAudit).where(TaskAudit.task_id == task_id).order_by(TaskAudit.ts, TaskAudit.id)
    ).all()


def _transition(
    session: Session,
    task: FieldTask,
    action: TaskAction,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    values: dict[str, Any],
    details: dict[str, Any],
) -> FieldTask:
    before = cast(TaskState, task.state)
    after = lifecycle.next_state(before, action)
    changes = {**values, "state": after, "version": task.version + 1, "updated_at": now}
    if after in lifecycle.FINAL:
        changes["closed_at"] = now
    stmt = (
        update(FieldTask).where(FieldTask.id == task.id, FieldTask.version == task.version).values(**changes)
    )
    result = cast(CursorResult[Any], session.execute(stmt.execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        raise TaskConflictError(
            f"task {task.id} was changed by someone else meanwhile; reload it and try again"
        )
    _audit(
        session,
        task,
        now=now,
        actor=actor,
        action=action,
        before=before,
        note=note,
        after=after,
        details=details,
    )
    session.flush()
    session.refresh(task)
    log.info("task %s: %s by %s, %s -> %s", task.id, action, actor, before, after)
    return task


def _audit(
    session: Session,
    task: FieldTask,
    *,
    now: datetime,
    actor: str,
    action: str,
    before: str | None,
    note: str | None,
    after: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        TaskAudit(
            task_id=task.id,
            ts=now,
            actor=actor,
            action=action,
            from_state=before,
            to_state=after or task.state,
            note=note[:2000] if note else None,
            details=details or {},
        )
    )


def _require_visible(principal: Principal, task: FieldTask) -> None:
    if principal.role == "inspector":
        _require_assignee(principal, task)
    else:
        principal.require_street(task.street_id, f"task {task.id}")


def _require_assignee(principal: Principal, task: FieldTask) -> None:
    if principal.role != "inspector" or principal.inspector_id != task.inspector_id:
        raise OutOfScopeError(f"task {task.id} is {task.inspector_id}'s; only they work it")


def _require_may_act(principal: Principal, task: FieldTask, action: TaskAction) -> None:
    if principal.read_only:
        raise OutOfScopeError(f"{principal.username} is a read-only display and cannot act on tasks")
    if action in lifecycle.INSPECTOR_ACTIONS:
        _require_assignee(principal, task)
        return
    if principal.role == "inspector":
        raise OutOfScopeError(f"inspectors may not {action} a task; that is the supervisor's")
    principal.require_street(task.street_id, f"task {task.id}")
