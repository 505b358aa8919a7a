"""Case service: gather alerts into cases, move cases through their states with an audit trail, escalate
overdue ones, and list what a caller may see. Plain typed functions; no HTTP here.

Every transition is an optimistic write (``UPDATE cases ... WHERE id = ? AND version = ?``): of two
actions racing on one case, exactly one changes it; the other gets :class:`CaseConflictError`. The
audit row is written in the same transaction, so a transition and its record exist together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Update, false, func, literal, select, update
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from command_center.alerts.models import Alert
from command_center.auth.principal import OutOfScopeError, Principal
from command_center.cases import lifecycle
from command_center.cases.lifecycle import Action, State
from command_center.cases.models import Case, CaseAudit
from command_center.cases.policy import CasePolicy
from command_center.database.core import UtcDateTime
from inspection.people.models import Inspector

log = logging.getLogger(__name__)

SYSTEM = "system"


class CaseConflictError(Exception):
    """Someone else changed the case between reading and writing it; views map this to 409."""


class ActionInputError(ValueError):
    """The action lacks what it needs (a deadline, an inspector) or has a bad value; views: 422."""


@dataclass(frozen=True)
class Attached:
    """What storing an alert did to the cases: the case it joined, and whether it opened that case."""

    case: Case
    opened: bool


def attach_alert(session: Session, *, alert: Alert, policy: CasePolicy, now: datetime) -> Attached | None:
    """Add ``alert`` to the collecting case of its restaurant and violation, or open a new case when there
    is none, it is further than ``policy.window`` from the alert, or it closed meanwhile.

    Alerts without a restaurant (a test vehicle's camera) open no case. A race with another server
    opening the same case ends in ``IntegrityError`` on the unique ``collect_key``; the caller retries.
    """
    if alert.restaurant_id is None or alert.street_id is None:
        return None
    key = f"{alert.restaurant_id}|{alert.violation}"
    current = session.scalar(select(Case).where(Case.collect_key == key))
    if current is not None and abs(alert.ts - current.last_alert_at) <= policy.window:
        ts = literal(alert.ts, UtcDateTime())
        joined = _rows_written(
            session,
            update(Case)
            .where(Case.id == current.id, Case.collect_key == key)
            .values(
                alert_count=Case.alert_count + 1,
                last_alert_at=when((Case.last_alert_at < ts, ts), else_=Case.last_alert_at),
                validated=Case.validated | alert.validated,
                updated_at=now,
            ),
        )
        if joined == 1:
            alert.case_id = current.id
            session.flush()
            session.refresh(current)
            return Attached(current, opened=False)
    if current is not None:
        # Quiet for longer than the window: the old case stops collecting but keeps its workflow.
        _rows_written(
            session,
            update(Case).where(Case.id == current.id, Case.collect_key == key).values(collect_key=None),
        )
    case = Case(
        restaurant_id=alert.restaurant_id,
        street_id=alert.street_id,
        violation=alert.violation,
        state="new",
        version=1,
        collect_key=key,
        camera_id=alert.camera_id,
        validated=alert.validated,
        alert_count=1,
        opened_at=alert.ts,
        last_alert_at=alert.ts,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    alert.case_id = case.id
    note = f"opened by alert {alert.id} ({alert.source}{', not validated' if not alert.validated else ''})"
    session.add(
        CaseAudit(case_id=case.id, ts=now, actor=SYSTEM, action="open", to_state="new", note=note, details={})
    )
    session.flush()
    return Attached(case, opened=True)


def act(
    session: Session,
    *,
    principal: Principal,
    case_id: int,
    action: Action,
    now: datetime,
    note: str | None = None,
    deadline: datetime | None = None,
    inspector_id: str | None = None,
) -> Case | None:
    """Apply ``action`` to a case on behalf of ``principal``; returns the updated case, None if unknown.

    Raises OutOfScopeError (not the caller's case or action), IllegalTransitionError (not allowed in
    the case's state), ActionInputError (missing or bad deadline / inspector) or CaseConflictError
    (another action won the race).
    """
    case = session.get(Case, case_id)
    if case is None:
        return None
    _require_may_act(principal, case, action)
    return transition(
        session,
        case=case,
        action=action,
        actor=principal.username,
        now=now,
        note=note,
        deadline=deadline,
        inspector_id=inspector_id,
    )


def transition(
    session: Session,
    *,
    case: Case,
    action: Action,
    actor: str,
    now: datetime,
    note: str | None = None,
    deadline: datetime | None = None,
    inspector_id: str | None = None,
) -> Case:
    """Apply ``action`` to ``case`` as ``actor`` (no scope check: callers have done it) and record it."""
    before = cast(State, case.state)
    step = lifecycle.next_step(before, action, cast(State | None, case.escalated_from))
    values: dict[str, Any] = {
        "state": step.state,
        "escalated_from": step.escalated_from,
        "version": case.version + 1,
        "updated_at": now,
    }
    details: dict[str, Any] = {}
    if action == "start_rectification":
        if deadline is None:
            raise ActionInputError("deadline: start_rectification needs a deadline (ISO 8601 with offset)")
        if deadline <= now:
            raise ActionInputError(f"deadline: {deadline.isoformat()} is not in the future")
        values["deadline"] = deadline
        details["deadline"] = deadline.isoformat()
    if action == "assign":
        if not inspector_id:
            raise ActionInputError("inspector_id: assign needs the inspector to assign the case to")
        if session.get(Inspector, inspector_id) is None:
            raise ActionInputError(f"inspector_id: no inspector {inspector_id!r}")
        values["inspector_id"] = inspector_id
        details["inspector_id"] = inspector_id
    stamps = {"confirmed": "confirmed_at", "notified": "notified_at", "escalated": "escalated_at"}
    if step.state != before and step.state in stamps:
        values[stamps[step.state]] = now
    if step.state in lifecycle.FINAL:
        values["closed_at"] = now
        values["collect_key"] = None
    if step.state == "escalated" and before == "rectifying" and case.deadline and case.deadline < now:
        values["missed_deadlines"] = case.missed_deadlines + 1
    written = _rows_written(
        session, update(Case).where(Case.id == case.id, Case.version == case.version).values(**values)
    )
    if written != 1:
        raise CaseConflictError(
            f"case {case.id} was changed by someone else while you acted; reload it and try again"
        )
    session.add(
        CaseAudit(
            case_id=case.id,
            ts=now,
            actor=actor,
            action=action,
            from_state=before,
            to_state=step.state,
            note=note,
            details=details,
        )
    )
    session.flush()
    session.refresh(case)
    log.info("case %s: %s by %s, %s -> %s", case.id, action, actor, before, step.state)
    return case


def _rows_written(session: Session, stmt: Update) -> int:
    # The identity map is refreshed explicitly by the callers, and only when the write took effect.
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def _require_may_act(principal: Principal, case: Case, action: Action) -> None:
    if principal.read_only:
        raise OutOfScopeError(f"{principal.username} is a read-only display and cannot act on cases")
    if principal.role == "inspector":
        _require_assigned(principal, case)
        if action not in lifecycle.INSPECTOR_ACTIONS:
            allowed = ", ".join(sorted(lifecycle.INSPECTOR_ACTIONS))
            raise OutOfScopeError(f"inspectors may {allowed} only; {action} is for supervisors")
        return
    principal.require_street(case.street_id, f"case {case.id}")


def _require_assigned(principal: Principal, case: Case) -> None:
    if principal.inspector_id is None or case.inspector_id != principal.inspector_id:
        raise OutOfScopeError(f"case {case.id} is not assigned to {principal.username}")


def escalate_overdue(session: Session, *, now: datetime, policy: CasePolicy) -> list[Case]:
    """Escalate the rectifications whose deadline has passed and the cases unconfirmed for longer than
    their violation allows; returns the escalated cases. A case changed meanwhile is left for the next
    run. Safe to run on several servers at once: each case is escalated once."""
    overdue = session.scalars(
        select(Case).where(Case.state == "rectifying", Case.deadline < now).order_by(Case.id)
    ).all()
    waiting = session.scalars(select(Case).where(Case.state == "new").order_by(Case.id)).all()
    due: list[tuple[Case, str]] = [
        (c, f"rectification deadline {c.deadline.isoformat()} passed") for c in overdue if c.deadline
    ]
    for c in waiting:
        limit = policy.confirm_within(c.violation)
        if c.opened_at + limit < now:
            due.append((c, f"unconfirmed for more than {int(limit.total_seconds() // 60)} min"))
    escalated: list[Case] = []
    for case, why in due:
        try:
            case = transition(session, case=case, action="escalate", actor=SYSTEM, now=now, note=why)
            escalated.append(case)
        except CaseConflictError:
            log.info("case %s changed while escalating; the next run looks again", case.id)
    return escalated


def list_cases(
    session: Session,
    *,
    principal: Principal,
    street_id: str | None = None,
    state: str | None = None,
    violation: str | None = None,
    restaurant_id: str | None = None,
    inspector_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[Case], int]:
    """Cases the caller may see, most recently active first; returns (page, total).

    ``state`` is a state or ``open`` (not final); ``since``/``until`` bound the opening time.
    """
    stmt = select(Case)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Case.street_id == street_id)
    stmt = scoped(stmt, principal)
    if state == "open":
        stmt = stmt.where(Case.state.in_(lifecycle.OPEN))
    elif state is not None:
        stmt = stmt.where(Case.state == state)
    for column, value in (
        (Case.violation, violation),
        (Case.restaurant_id, restaurant_id),
        (Case.inspector_id, inspector_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(Case.opened_at >= since)
    if until is not None:
        stmt = stmt.where(Case.opened_at < until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = session.scalars(stmt.order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit).offset(offset))
    return page.all(), total


def scoped(stmt: Select[Case], principal: Principal) -> Select[Case]:
    """Restrict a case query to what ``principal`` may see: their street (supervisors), the cases
    assigned to them (inspectors), everything (district admins, the wall display)."""
    if principal.role == "inspector":
        if principal.inspector_id is None:
            return stmt.where(false())
        return stmt.where(Case.inspector_id == principal.inspector_id)
    scope = principal.street_scope
    return stmt if scope is None else stmt.where(Case.street_id.in_(scope))


def get_case(session: Session, *, principal: Principal, case_id: int) -> Case | None:
    """One case; None if unknown. Raises OutOfScopeError when the caller may not see it."""
    case = session.get(Case, case_id)
    if case is None:
        return None
    if principal.role == "inspector":
        _require_assigned(principal, case)
    else:
        principal.require_street(case.street_id, f"case {case_id}")
    return case


def alert_sources(session: Session, *, case_ids: Collection[int]) -> dict[int, list[str]]:
    """Where the alerts of each case came from (``detector``, ``simulated``, ``manual``, ...), sorted:
    the console marks the demo's simulated stand-ins so nobody mistakes them for model output."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(Alert.case_id, Alert.source).where(Alert.case_id.in_(list(case_ids))).distinct()
    )
    sources: dict[int, list[str]] = {}
    for case_id, source in rows:
        if case_id is not None:  # the query asks for given ids only; this satisfies the column's type
            sources.setdefault(case_id, []).append(source)
    return {case_id: sorted(found) for case_id, found in sources.items()}


def audit_trail(session: Session, *, case_id: int) -> Sequence[CaseAudit]:
    """The audit rows of a case, oldest first."""
    return session.scalars(
        select(CaseAudit).where(CaseAudit.case_id == case_id).order_by(CaseAudit.ts, CaseAudit.id)
    ).all()


@dataclass(frozen=True)
class FalseAlarmRate:
    """How often the verdict on a camera's alerts was "false alarm"."""

    camera_id: str
    judged: int
    false_alarms: int

    @property
    def rate(self) -> float:
        """False alarms per judged alert (0 when none was judged)."""
        return self.false_alarms / self.judged if self.judged else 0.0


def false_alarm_rates(
    session: Session, *, principal: Principal, since: datetime | None = None, street_id: str | None = None
) -> list[FalseAlarmRate]:
    """Per camera: its alerts whose case got a verdict (confirmed at some point, or dismissed as a false
    alarm), and how many of those were false alarms; highest rate first. Scoped like the cases."""
    judged = (Case.confirmed_at.is_not(None)) | (Case.state == "false_alarm")
    stmt = (
        select(
            Alert.camera_id,
            func.count(),
            func.sum(when((Case.state == "false_alarm", 1), else_=0)),
        )
        .join(Case, Alert.case_id == Case.id)
        .where(Alert.camera_id.is_not(None), judged)
        .group_by(Alert.camera_id)
    )
    if since is not None:
        stmt = stmt.where(Alert.ts >= since)
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
        stmt = stmt.where(Case.street_id == street_id)
    if principal.role == "inspector":
        stmt = stmt.where(Case.inspector_id == principal.inspector_id)
    elif principal.street_scope is not None:
        stmt = stmt.where(Case.street_id.in_(principal.street_scope))
    rates = [FalseAlarmRate(str(camera), int(n), int(fa or 0)) for camera, n, fa in session.execute(stmt)]
    return sorted(rates, key=lambda r: (-r.rate, -r.judged, r.camera_id))
