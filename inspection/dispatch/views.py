"""HTTP view of dispatch proposals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from command_center.auth.principal import Principal
from command_center.deps import SessionDep, require_roles
from inspection.dispatch import service
from inspection.dispatch.schemas import DispatchOut

router = APIRouter(tags=["dispatch"])

_OFFLINE_DEFAULT_S = int(service.DEFAULT_OFFLINE_AFTER.total_seconds())
_OFFLINE_HELP = "an inspector whose device sent no fix for this many seconds is offline"
_Supervisor = Annotated[Principal, Depends(require_roles("district_admin", "street_supervisor"))]


@router.get("/api/cases/{case_id}/dispatch")
def dispatch(
    case_id: int,
    session: SessionDep,
    principal: _Supervisor,
    offline_after_s: Annotated[
        int, Query(ge=30, le=86_400, description="no fix for this long: offline")
    ] = int(service.DEFAULT_OFFLINE_AFTER.total_seconds()),
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> DispatchOut:
    """The nearest available inspectors of the case's street (great-circle from their last fix);
    offline ones are listed apart. Assign with ``POST /api/cases/{id}/actions`` ``{"action": "assign"}``."""
    proposal = service.propose(
        session,
        principal=principal,
        case_id=case_id,
        now=datetime.now(UTC),
        offline_after=timedelta(seconds=offline_after_s),
        limit=limit,
    )
    if proposal is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return proposal
