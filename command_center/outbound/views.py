"""HTTP view of the events out: how each target is doing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from command_center.auth.principal import Principal
from command_center.deps import ContextDep, require_roles
from command_center.outbound import flows
from command_center.outbound.schemas import OutboxOut

router = APIRouter(tags=["outbound"])

Admin = Annotated[Principal, Depends(require_roles("district_admin"))]


@router.get("/api/outbound")
def status(ctx: ContextDep, _: Admin) -> list[OutboxOut]:
    """MQTT and webhook targets with their backlog, delivered and dropped counts and last error."""
    return [
        OutboxOut(
            target=box.sink.name,
            backlog=box.backlog,
            delivered=box.delivered,
            dropped=box.dropped,
            last_error=box.last_error,
        )
        for box in flows.outboxes(ctx)
    ]
