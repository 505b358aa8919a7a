"""Restaurant risk score: which restaurants to inspect first. Plain typed functions; no HTTP here.

The score of a restaurant is a sum over its findings of the last 365 days, each weighted by its kind
and halved every 60 days of age (``0.5 ** (age_days / 60)``, age counted from the case's first alert,
or the lab alert's time)::

    score = Σ confirmed violations   × weight of the violation (rodent 5, no_mask 2, no_hat 1, other 2)
          + Σ failed lab tests       × 4   (alerts ``lab_failed``; one per failed sample)
          + Σ camera-health findings × weight (camera_tampered 3, camera_offline 1)
          + Σ missed deadlines       × 2   (rectifications escalated because their deadline passed)

A detection counts only once a person confirmed it (its case has ``confirmed_at``): unconfirmed cases
count nothing, and neither do false alarms, whatever their kind. Camera-health findings and lab
failures are facts rather than guesses, so they count unless dismissed as a false alarm. Examples: a
rodent confirmed today scores 5.0; the same 60 days ago 2.5; a tampered camera 120 days ago 0.75.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.alerts.models import Alert
from command_center.alerts.service import CAMERA_HEALTH, LAB_FAILED
from command_center.auth.principal import Principal
from command_center.cases.models import Case
from command_center.district.models import Restaurant

HORIZON = timedelta(days=365)
HALF_LIFE_DAYS = 60.0
VIOLATION_WEIGHTS = {"rodent": 5.0, "no_mask": 2.0, "no_hat": 1.0}
DEFAULT_VIOLATION_WEIGHT = 2.0
CAMERA_WEIGHTS = {"camera_tampered": 3.0, "camera_offline": 1.0}
LAB_FAILURE_WEIGHT = 4.0
MISSED_DEADLINE_WEIGHT = 2.0


def decay(age: timedelta) -> float:
    """The weight left after ``age``: 1 now, 0.5 after 60 days, 0.25 after 120."""
    return float(0.5 ** (max(age.total_seconds(), 0.0) / 86400 / HALF_LIFE_DAYS))


@dataclass
class Risk:
    """A restaurant's score and what it is made of."""

    restaurant_id: str
    score: float = 0.0
    confirmed_violations: int = 0
    lab_failures: int = 0
    camera_findings: int = 0
    missed_deadlines: int = 0
    last_finding_at: datetime | None = None
    name: str = ""
    street_id: str = ""
    by_violation: dict[str, int] = field(default_factory=dict)

    def add(self, weight: float, at: datetime, now: datetime) -> None:
        """Count one finding of ``weight`` that happened at ``at``."""
        self.score += weight * decay(now - at)
        self.last_finding_at = at if self.last_finding_at is None else max(self.last_finding_at, at)


def ranking(
    session: Session, *, principal: Principal, now: datetime, street_id: str | None = None, limit: int = 50
) -> list[Risk]:
    """Restaurants with a score above zero, highest first (ties: most recent finding, then id), within
    the caller's streets. Raises OutOfScopeError when ``street_id`` is not the caller's."""
    if street_id is not None:
        principal.require_street(street_id, f"street {street_id}")
    streets = {street_id} if street_id is not None else principal.street_scope
    since = now - HORIZON
    risks: dict[str, Risk] = defaultdict(lambda: Risk(""))

    case_stmt = select(Case).where(Case.opened_at >= since, Case.state != "false_alarm")
    if streets is not None:
        case_stmt = case_stmt.where(Case.street_id.in_(streets))
    for case in session.scalars(case_stmt):
        risk = risks[case.restaurant_id]
        if case.violation in CAMERA_HEALTH:
            risk.camera_findings += 1
            risk.add(CAMERA_WEIGHTS[case.violation], case.opened_at, now)
        elif case.violation != LAB_FAILED and case.confirmed_at is not None:
            risk.confirmed_violations += 1
            risk.by_violation[case.violation] = risk.by_violation.get(case.violation, 0) + 1
            risk.add(VIOLATION_WEIGHTS.get(case.violation, DEFAULT_VIOLATION_WEIGHT), case.opened_at, now)
        if case.missed_deadlines:
            risk.missed_deadlines += case.missed_deadlines
            risk.add(MISSED_DEADLINE_WEIGHT * case.missed_deadlines, case.opened_at, now)

    lab_stmt = (
        select(Alert.restaurant_id, Alert.ts)
        .outerjoin(Case, Alert.case_id == Case.id)
        .where(Alert.violation == LAB_FAILED, Alert.ts >= since, Alert.restaurant_id.is_not(None))
        .where((Case.state.is_(None)) | (Case.state != "false_alarm"))
    )
    if streets is not None:
        lab_stmt = lab_stmt.where(Alert.street_id.in_(streets))
    for restaurant_id, ts in session.execute(lab_stmt):
        risk = risks[str(restaurant_id)]
        risk.lab_failures += 1
        risk.add(LAB_FAILURE_WEIGHT, ts, now)

    names = {
        r.id: (r.name, r.street_id)
        for r in session.scalars(select(Restaurant).where(Restaurant.id.in_(list(risks))))
    }
    for restaurant_id, risk in risks.items():
        risk.restaurant_id = restaurant_id
        risk.name, risk.street_id = names.get(restaurant_id, ("", ""))
        risk.score = round(risk.score, 2)
    scored = [r for r in risks.values() if r.score > 0]
    scored.sort(key=lambda r: (-r.score, -_timestamp(r.last_finding_at), r.restaurant_id))
    return scored[:limit]


def _timestamp(at: datetime | None) -> float:
    return at.timestamp() if at is not None else float("-inf")
