"""HTTP views of authentication: the token endpoint and who-am-I."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from command_center.auth import service
from command_center.auth.schemas import Me, Token
from command_center.deps import ContextDep, PrincipalDep, SessionDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])


@router.post("/api/auth/token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, ctx: ContextDep
) -> Token:
    """Exchange a user name and password (form fields) for a bearer token."""
    user = service.authenticate(session, username=form.username, password=form.password)
    if user is None:
        log.info("failed login for user %s", form.username[:64])
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ttl = timedelta(minutes=ctx.settings.token_ttl_minutes)
    principal = service.principal_of(user)
    return Token(
        access_token=service.create_token(user=user, secret=ctx.secret, ttl=ttl),
        expires_in=int(ttl.total_seconds()),
        role=principal.role,
        street_id=principal.street_id,
    )


@router.get("/api/auth/me")
def me(principal: PrincipalDep) -> Me:
    """The caller's name, role and street."""
    return Me(
        username=principal.username,
        role=principal.role,
        street_id=principal.street_id,
        inspector_id=principal.inspector_id,
    )
