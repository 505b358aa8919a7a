"""Statistics service: the overview the screens show, computed for the caller's scope. Plain typed
functions; no HTTP here. Durations and day buckets are computed in Python over a bounded period, so
the same code runs on SQLite and PostgreSQL without date functions of either."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from command_center.alerts import service as alerts
from command_center.auth.principal import Principal
from command_center.cases import lifecycle
from command_center.cases import service as cases
from command_center.cases.models import Case
from command_center.stats.schemas import (
    CameraFalseAlarms,
    DayCount,
    Durations,
    OpenCases,
    Overdue,
    Overview,
)

TREND_DAYS = 14


def overview(
    session: Session,
    *,
    principal: Principal,
    now: datetime,
    tz: ZoneInfo,
    street_id: str | None = None,
    days: int = 30,
) -> Overview:
    """Open cases by street and type, time to confirm and to close (cases opened in the last ``days``),
    overdue rectifications, per-camera false-alarm rates and alerts per day for the last 14 days.

    Raises OutOfScopeError when ``street_id`` is not the caller's.
    """
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
    since = now - timedelta(days=days)

    base = cases.scoped(select(Case), principal)
    if street_id is not None:
        base = base.where(Case.street_id == street_id)
    ids = base.with_only_columns(Case.id).scalar_subquery()

    open_rows = session.execute(
        select(Case.street_id, Case.violation, Case.state, func.count())
        .where(Case.id.in_(ids), Case.state.in_(lifecycle.OPEN))
        .group_by(Case.street_id, Case.violation, Case.state)
    ).all()
    by_pair: Counter[tuple[str, str]] = Counter()
    by_state: Counter[str] = Counter()
    for street, violation, state, count in open_rows:
        by_pair[(street, violation)] += count
        by_state[state] += count

    recent = session.execute(
        select(Case.opened_at, Case.confirmed_at, Case.closed_at, Case.state).where(
            Case.id.in_(ids), Case.opened_at >= since
        )
    ).all()
    to_confirm = [(c - o).total_seconds() for o, c, _, _ in recent if c is not None]
    to_close = [(c - o).total_seconds() for o, _, c, s in recent if c is not None and s == "closed"]

    overdue = session.scalars(
        select(Case)
        .where(
            Case.id.in_(ids),
            Case.deadline < now,
            or_(
                Case.state == "rectifying",
                (Case.state == "escalated") & (Case.escalated_from == "rectifying"),
            ),
        )
        .order_by(Case.deadline)
    ).all()

    rates = cases.false_alarm_rates(session, principal=principal, since=since, street_id=street_id)
    return Overview(
        generated_at=now,
        street_id=street_id,
        days=days,
        open_cases=[OpenCases(street_id=s, violation=v, count=n) for (s, v), n in sorted(by_pair.items())],
        open_by_state=dict(sorted(by_state.items())),
        time_to_confirm=_durations(to_confirm),
        time_to_close=_durations(to_close),
        overdue_rectifications=[
            Overdue(
                case_id=c.id,
                restaurant_id=c.restaurant_id,
                street_id=c.street_id,
                violation=c.violation,
                deadline=c.deadline,
                state=c.state,
            )
            for c in overdue
            if c.deadline is not None
        ],
        false_alarm_rates=[
            CameraFalseAlarms(
                camera_id=r.camera_id, judged=r.judged, false_alarms=r.false_alarms, rate=r.rate
            )
            for r in rates
        ],
        alerts_per_day=alerts_per_day(session, principal=principal, now=now, tz=tz, street_id=street_id),
    )


def alerts_per_day(
    session: Session,
    *,
    principal: Principal,
    now: datetime,
    tz: ZoneInfo,
    street_id: str | None = None,
    days: int = TREND_DAYS,
) -> list[DayCount]:
    """Alerts observed per local day for the last ``days`` days (today included), zero days included."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    times = alerts.alerts_in_scope(session, principal=principal, street_id=street_id, since=start)
    counts = Counter(t.astimezone(tz).date() for t in times)
    return [
        DayCount(day=first + timedelta(days=n), count=counts[first + timedelta(days=n)]) for n in range(days)
    ]


def _durations(seconds: list[float]) -> Durations:
    if not seconds:
        return Durations(cases=0, median_s=None, mean_s=None)
    return Durations(
        cases=len(seconds),
        median_s=round(statistics.median(seconds), 1),
        mean_s=round(statistics.fmean(seconds), 1),
    )
