"""HTTP view of the risk ranking."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from command_center.cases.flows import now
from command_center.deps import ContextDep, PrincipalDep, SessionDep
from command_center.risk import service
from command_center.risk.schemas import RiskOut

router = APIRouter(tags=["risk"])


@router.get("/api/restaurants/ranking")
def ranking(
    ctx: ContextDep,
    session: SessionDep,
    principal: PrincipalDep,
    street: Annotated[str | None, Query(description="only this street")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RiskOut]:
    """Restaurants with a risk score above zero, highest first, within the caller's streets (the formula
    is documented in docs/cases.md)."""
    risks = service.ranking(session, principal=principal, now=now(ctx), street_id=street, limit=limit)
    return [RiskOut(rank=n, **asdict(risk)) for n, risk in enumerate(risks, start=1)]
