"""API schemas of authentication."""

from __future__ import annotations

from pydantic import BaseModel

from config.district import Role


class Token(BaseModel):
    """OAuth2 bearer token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: Role
    street_id: str | None = None


class Me(BaseModel):
    """The caller, as the pages need it."""

    username: str
    role: Role
    street_id: str | None
    inspector_id: str | None
