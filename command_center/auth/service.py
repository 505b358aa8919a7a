"""Passwords (argon2), bearer tokens (signed JWT) and user management. Plain typed functions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import cast

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.auth.models import User
from command_center.auth.principal import Principal
from command_center.district.models import Street
from config.district import ROLES, Role

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")
ALGORITHM = "HS256"
ISSUER = "mscc"
MIN_PASSWORD_LENGTH = 8


class InvalidTokenError(Exception):
    """A bearer token is missing, forged, expired or names a user who can no longer log in."""


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The user if the password matches and the account is enabled, else None."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    return user


def create_token(*, user: User, secret: str, ttl: timedelta, now: datetime | None = None) -> str:
    """A signed bearer token for ``user`` valid for ``ttl``."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "name": user.username,
        "role": user.role,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def principal_from_token(session: Session, *, token: str, secret: str) -> Principal:
    """Verify ``token`` and load its user; the database, not the token, decides role and street.

    Raises :class:`InvalidTokenError` with a message fit for the caller.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("token expired; log in again") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("invalid token") from exc
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise InvalidTokenError("invalid token") from exc
    user = session.get(User, user_id)
    if user is None or user.disabled or user.username != claims.get("name"):
        raise InvalidTokenError("the account behind this token no longer exists or is disabled")
    return principal_of(user)


def principal_of(user: User) -> Principal:
    """The principal of a stored user."""
    return Principal(
        user_id=user.id,
        username=user.username,
        role=cast(Role, user.role),
        street_id=user.street_id,
        inspector_id=user.inspector_id,
    )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    street_id: str | None = None,
    inspector_id: str | None = None,
    replace: bool = False,
) -> User:
    """Create (or with ``replace`` update) a user. Raises :class:`UserError` with the reason."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "street_supervisor" and not street_id:
        raise UserError("a street_supervisor needs --street")
    if street_id is not None and session.get(Street, street_id) is None:
        known = ", ".join(session.scalars(select(Street.id).order_by(Street.id))) or "none loaded"
        raise UserError(f"unknown street {street_id!r} (known: {known})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and not replace:
        raise UserError(f"user {username!r} already exists")
    if user is None:
        user = User(username=username)
        session.add(user)
    user.password_hash = hash_password(password)
    user.role = role
    user.street_id = street_id
    user.inspector_id = inspector_id
    user.disabled = False
    session.flush()
    log.info("user %s saved with role %s", username, role)
    return user
