"""Fixtures shared by the whole suite: a migrated database on SQLite and on real PostgreSQL, and a
running app on the sample district with its users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from command_center.app import create_app
from command_center.database.core import make_engine, make_session_factory, transaction
from command_center.database.migrate import upgrade
from command_center.demo import ensure_users
from config.district import District
from config.loader import load_district, sample_district_path
from config.settings import Settings
from tests.services import fresh_postgres_database

PASSWORD = "mscc-demo-test"
SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def sample_district() -> District:
    """The committed sample district (parsed once)."""
    return load_district(sample_district_path())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database per test module, once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'mscc.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="module")
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a freshly migrated database."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Test settings that ignore the caller's MSCC_* environment."""
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": None,
        "secret_key": SECRET,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def app(database_url: str, sample_district: District, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The command center on the sample district with every config user (password ``PASSWORD``)."""
    application = create_app(
        make_settings(tmp_path_factory.mktemp("data"), database_url), district=sample_district, migrate=True
    )
    with transaction(application.state.ctx.sessions) as session:
        ensure_users(session, sample_district, PASSWORD)
    return application


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client on the running app (lifespan started: the bus runs)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def login(client: TestClient) -> Callable[[str], dict[str, str]]:
    """``login("sup-haishan")`` -> Authorization headers for that sample user (cached per module)."""
    cache: dict[str, dict[str, str]] = {}

    def _login(username: str) -> dict[str, str]:
        if username not in cache:
            response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            cache[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return cache[username]

    return _login
