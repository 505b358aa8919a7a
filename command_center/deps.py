"""FastAPI dependencies, declared once as ``Annotated`` aliases and used by every view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from command_center.auth.service import InvalidTokenError, principal_from_token
from command_center.context import AppContext
from command_center.events.bus import EventBus

_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_context(request: Request) -> AppContext:
    """The running server's shared state."""
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    """A session per request; committed by the view that writes, closed (rolled back) afterwards."""
    with ctx.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_bus(ctx: ContextDep) -> EventBus:
    """The event bus."""
    return ctx.bus


BusDep = Annotated[EventBus, Depends(get_bus)]


def get_principal(
    ctx: ContextDep, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The authenticated caller, or 401 with the reason and a Bearer challenge."""
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not authenticated: send Authorization: Bearer <token> from POST /api/auth/token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return principal_from_token(session, token=token, secret=ctx.secret)
    except InvalidTokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 otherwise)."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role} may not do this (needs {' or '.join(roles)})",
            )
        return principal

    return check
