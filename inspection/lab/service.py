"""Lab result service: append results to a lab's hash chain, list them by scope, verify the chains.

Who may post: district admins for every lab, inspectors for the test-vehicle labs (they ride in the
vehicles and test on the spot). Street supervisors and the wall display only read. There is no lab role
in the system yet; when the rooms get their own logins, a ``lab`` role bound to a lab id belongs here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from command_center.auth.principal import OutOfScopeError, Principal
from command_center.district.models import Lab, Restaurant
from inspection.lab.models import LabResult
from inspection.lab.schemas import ChainStatus, LabResultIn

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# A lab's clock may run a little fast; a result further ahead was not tested yet.
MAX_FUTURE = timedelta(minutes=10)
_HASHED = (
    "lab_id",
    "seq",
    "sample_id",
    "restaurant_id",
    "market_stall",
    "street_id",
    "item",
    "method",
    "measured_value",
    "limit_value",
    "unit",
    "passed",
    "operator",
    "tested_at",
    "recorded_at",
    "recorded_by",
    "prev_hash",
)


class LabInputError(ValueError):
    """The result names an unknown lab or restaurant, or an impossible time; views map this to 422."""


def canonical_hash(row: LabResult) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, ISO times) of every field and ``prev_hash``."""
    fields: dict[str, Any] = {}
    for name in _HASHED:
        value = getattr(row, name)
        fields[name] = value.isoformat() if isinstance(value, datetime) else value
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def may_post(principal: Principal, lab: Lab) -> bool:
    """District admins post for every lab; inspectors for the test-vehicle labs."""
    return principal.role == "district_admin" or (principal.role == "inspector" and lab.kind == "vehicle")


def check(session: Session, *, principal: Principal, data: LabResultIn, now: datetime) -> str | None:
    """The street the result belongs to (its restaurant's, else the lab's room street).

    Raises OutOfScopeError when the caller may not post for this lab, LabInputError for an unknown lab
    or restaurant or a test time in the future.
    """
    lab = session.get(Lab, data.lab_id)
    if lab is None:
        raise LabInputError(f"unknown lab {data.lab_id!r}")
    if not may_post(principal, lab):
        raise OutOfScopeError(f"{principal.username} ({principal.role}) may not post results of lab {lab.id}")
    if data.tested_at > now + MAX_FUTURE:
        raise LabInputError(f"tested_at {data.tested_at.isoformat()} is in the future")
    if data.restaurant_id:
        restaurant = session.get(Restaurant, data.restaurant_id)
        if restaurant is None:
            raise LabInputError(f"unknown restaurant {data.restaurant_id!r}")
        return restaurant.street_id
    return lab.street_id


def append(
    session: Session, *, items: Sequence[tuple[LabResultIn, str | None]], recorded_by: str, now: datetime
) -> list[LabResult]:
    """Append checked results (with their street) to their labs' chains, in order.

    Two writers appending to one lab at once both try the same ``seq``; the unique ``(lab_id, seq)``
    refuses the second at flush (``IntegrityError``) and the caller retries the whole transaction.
    """
    heads: dict[str, tuple[int, str]] = {}
    stored: list[LabResult] = []
    for data, street_id in items:
        if data.lab_id not in heads:
            last = session.execute(
                select(LabResult.seq, LabResult.hash)
                .where(LabResult.lab_id == data.lab_id)
                .order_by(LabResult.seq.desc())
                .limit(1)
            ).first()
            heads[data.lab_id] = (last[0], last[1]) if last is not None else (0, GENESIS)
        seq, prev_hash = heads[data.lab_id]
        row = LabResult(
            lab_id=data.lab_id,
            seq=seq + 1,
            sample_id=data.sample_id,
            restaurant_id=data.restaurant_id or None,
            market_stall=data.market_stall or None,
            street_id=street_id,
            item=data.item,
            method=data.method,
            measured_value=float(data.measured_value),
            limit_value=float(data.limit),
            unit=data.unit,
            passed=bool(data.passed),
            operator=data.operator,
            tested_at=data.tested_at,
            recorded_at=now,
            recorded_by=recorded_by,
            prev_hash=prev_hash,
        )
        row.hash = canonical_hash(row)
        session.add(row)
        heads[data.lab_id] = (row.seq, row.hash)
        stored.append(row)
    session.flush()
    return stored


def list_results(
    session: Session,
    *,
    principal: Principal,
    lab_id: str | None = None,
    restaurant_id: str | None = None,
    passed: bool | None = None,
    limit: int = 200,
) -> Sequence[LabResult]:
    """Results the caller may see, newest test first: a street supervisor sees their street's results
    (by the restaurant's street) and the district-wide ones without a street."""
    stmt = select(LabResult).order_by(LabResult.tested_at.desc(), LabResult.id.desc()).limit(limit)
    scope = principal.street_scope
    if scope is not None:
        stmt = stmt.where(or_(LabResult.street_id.is_(None), LabResult.street_id.in_(scope)))
    if lab_id is not None:
        stmt = stmt.where(LabResult.lab_id == lab_id)
    if restaurant_id is not None:
        stmt = stmt.where(LabResult.restaurant_id == restaurant_id)
    if passed is not None:
        stmt = stmt.where(LabResult.passed == passed)
    return session.scalars(stmt).all()


def verify(session: Session) -> list[ChainStatus]:
    """Walk every lab's chain in ``seq`` order: numbering without gaps, each ``prev_hash`` equal to the
    previous ``hash`` and each ``hash`` recomputed from the stored fields. An edited row fails its own
    hash; a deleted row leaves a gap. (Deleting the newest rows is only visible against a copy of the
    head hash kept elsewhere, e.g. the MQTT ``lab_result`` events.)"""
    statuses: list[ChainStatus] = []
    for lab_id in session.scalars(select(Lab.id).order_by(Lab.id)):
        expected_seq, prev, count, status = 1, GENESIS, 0, None
        rows = session.scalars(select(LabResult).where(LabResult.lab_id == lab_id).order_by(LabResult.seq))
        for row in rows:
            count += 1
            if status is not None:
                continue
            if row.seq != expected_seq:
                status = ChainStatus(
                    lab_id=lab_id, ok=False, results=0, first_bad_seq=expected_seq, problem="result missing"
                )
            elif row.prev_hash != prev:
                status = ChainStatus(
                    lab_id=lab_id, ok=False, results=0, first_bad_seq=row.seq, problem="prev_hash mismatch"
                )
            elif canonical_hash(row) != row.hash:
                status = ChainStatus(
                    lab_id=lab_id, ok=False, results=0, first_bad_seq=row.seq, problem="content changed"
                )
            expected_seq, prev = row.seq + 1, row.hash
        if status is None:
            statuses.append(ChainStatus(lab_id=lab_id, ok=True, results=count))
        else:
            log.warning("lab %s chain broken at seq %s: %s", lab_id, status.first_bad_seq, status.problem)
            statuses.append(status.model_copy(update={"results": count}))
    return statuses
