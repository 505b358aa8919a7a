"""HTTP views of cases: scoped lists, one case with its alerts and audit trail, and actions."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from command_center.alerts import service as alerts
from command_center.auth.principal import Principal
from command_center.cases import flows, lifecycle, service
from command_center.cases.lifecycle import IllegalTransitionError, State
from command_center.cases.models import Case
from command_center.cases.schemas import AuditOut, CaseActionIn, CaseDetail, CaseOut
from command_center.context import AppContext
from command_center.database.core import transaction
from command_center.deps import ContextDep, PrincipalDep, SessionDep

router = APIRouter(tags=["cases"])


@router.get("/api/cases")
def list_cases(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    street: Annotated[str | None, Query(description="only this street")] = None,
    state: Annotated[str | None, Query(description="a state, or `open` for every unfinished case")] = None,
    violation: Annotated[str | None, Query()] = None,
    restaurant: Annotated[str | None, Query()] = None,
    inspector: Annotated[str | None, Query(description="assigned to this inspector")] = None,
    since: Annotated[AwareDatetime | None, Query(description="opened at or after (ISO 8601)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="opened before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CaseOut]:
    """Cases the caller may see, most recently changed first; the total is in ``X-Total-Count``.
    Street supervisors see their street, inspectors the cases assigned to them."""
    if state is not None and state != "open" and state not in lifecycle.STATES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"state: unknown state {state!r} (one of open, {', '.join(lifecycle.STATES)})",
        )
    page, total = service.list_cases(
        session,
        principal=principal,
        street_id=street,
        state=state,
        violation=violation,
        restaurant_id=restaurant,
        inspector_id=inspector,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    sources = service.alert_sources(session, case_ids=[case.id for case in page])
    return [_out(case, sources.get(case.id, [])) for case in page]


@router.get("/api/cases/{case_id}")
def get_case(case_id: int, session: SessionDep, principal: PrincipalDep) -> CaseDetail:
    """One case with its alerts and audit trail; 403 outside the caller's scope, 404 if unknown."""
    case = service.get_case(session, principal=principal, case_id=case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    sources = service.alert_sources(session, case_ids=[case.id]).get(case.id, [])
    return CaseDetail.model_validate(_out(case, sources).model_dump()).model_copy(
        update={
            "alerts": alerts.alerts_of_case(session, case_id=case.id, state=case.state),
            "audit": [AuditOut.model_validate(row) for row in service.audit_trail(session, case_id=case.id)],
        }
    )


@router.post("/api/cases/{case_id}/actions")
async def act(case_id: int, body: CaseActionIn, ctx: ContextDep, principal: PrincipalDep) -> CaseOut:
    """Move a case on: 409 with the reason for a transition its state does not allow (or when another
    action won a race), 403 outside the caller's scope or role, 404 if unknown, 422 for a missing
    deadline or inspector."""
    try:
        acted = await run_in_threadpool(_act, ctx, principal, case_id, body)
    except (IllegalTransitionError, service.CaseConflictError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except service.ActionInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if acted is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    case, sources = acted
    await flows.publish_all(ctx.bus, [flows.case_event(case, action=body.action, actor=principal.username)])
    return _out(case, sources)


def _act(
    ctx: AppContext, principal: Principal, case_id: int, body: CaseActionIn
) -> tuple[Case, list[str]] | None:
    with transaction(ctx.sessions) as session:
        case = service.act(
            session,
            principal=principal,
            case_id=case_id,
            action=body.action,
            now=flows.now(ctx),
            note=body.note,
            deadline=body.deadline,
            inspector_id=body.inspector_id,
        )
        if case is None:
            return None
        return case, service.alert_sources(session, case_ids=[case.id]).get(case.id, [])


def _out(case: Case, sources: list[str]) -> CaseOut:
    allowed = lifecycle.allowed_actions(cast(State, case.state), cast(State | None, case.escalated_from))
    return CaseOut.model_validate(case).model_copy(
        update={"allowed_actions": list(allowed), "sources": sources}
    )
