"""Login, tokens and their failures, on SQLite and on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from command_center.auth.models import User
from command_center.auth.service import create_token
from config.settings import Settings, SettingsError
from tests.conftest import PASSWORD, SECRET


def test_login_returns_a_bearer_token_with_role_and_street(client: TestClient) -> None:
    response = client.post("/api/auth/token", data={"username": "sup-haishan", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "street_supervisor"
    assert body["street_id"] == "haishan"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert (me["username"], me["role"], me["street_id"]) == ("sup-haishan", "street_supervisor", "haishan")


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"username": "admin", "password": "wrong-password"}, 401, "incorrect username or password"),
        ({"username": "nobody", "password": PASSWORD}, 401, "incorrect username or password"),
        ({"username": "admin"}, 422, "password"),
        ({}, 422, "username"),
    ],
    ids=["wrong-password", "unknown-user", "no-password", "empty-form"],
)
def test_bad_credentials_get_a_clear_4xx(
    client: TestClient, form: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/api/auth/token", data=form)
    assert response.status_code == status
    assert message in response.json()["detail"]


def _token(**claims: object) -> str:
    now = int(datetime.now(UTC).timestamp())
    base: dict[str, object] = {"sub": "1", "name": "admin", "iss": "mscc", "iat": now, "exp": now + 3600}
    base.update(claims)
    secret = str(base.pop("_secret", SECRET))
    return jwt.encode(base, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "not authenticated"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid token"),
        ({"Authorization": "Bearer " + _token(_secret="another-secret-" + "x" * 32)}, "invalid token"),
        ({"Authorization": "Bearer " + _token(exp=int(datetime.now(UTC).timestamp()) - 60)}, "token expired"),
        ({"Authorization": "Bearer " + _token(iss="someone-else")}, "invalid token"),
        ({"Authorization": "Bearer " + _token(sub="999999")}, "no longer exists"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "not authenticated"),
    ],
    ids=["missing", "garbage", "forged-signature", "expired", "wrong-issuer", "deleted-user", "basic-auth"],
)
def test_bad_tokens_are_refused_with_401_and_reason(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    response = client.get("/api/restaurants", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_unsigned_token_is_refused(client: TestClient) -> None:
    """The 'alg: none' trick: a token without signature must never be accepted."""
    unsigned = jwt.encode(
        {"sub": "1", "name": "admin", "iss": "mscc", "exp": 9999999999}, key="", algorithm="none"
    )
    response = client.get("/api/restaurants", headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401


def test_disabled_user_token_stops_working(client: TestClient, app: FastAPI) -> None:
    sessions = app.state.ctx.sessions
    with sessions() as session, session.begin():
        user = session.query(User).filter_by(username="insp-20").one()
        token = create_token(user=user, secret=SECRET, ttl=timedelta(minutes=5))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/streets", headers=headers).status_code == 200
    with sessions() as session, session.begin():
        session.query(User).filter_by(username="insp-20").one().disabled = True
    try:
        assert client.get("/api/streets", headers=headers).status_code == 401
        refused = client.post("/api/auth/token", data={"username": "insp-20", "password": PASSWORD})
        assert refused.status_code == 401
    finally:
        with sessions() as session, session.begin():
            session.query(User).filter_by(username="insp-20").one().disabled = False


@pytest.mark.parametrize("secret", [None, "", "changeme", "secret", "short-key"])
def test_placeholder_secret_is_refused_outside_demo(secret: str | None) -> None:
    settings = Settings(environment="production", secret_key=secret)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="MSCC_SECRET_KEY"):
        settings.checked_secret()


def test_demo_creates_and_keeps_its_own_secret(tmp_path: Path) -> None:
    settings = Settings(environment="demo", data_dir=tmp_path, secret_key=None)
    first = settings.checked_secret()
    assert len(first) >= 32
    assert settings.checked_secret() == first
