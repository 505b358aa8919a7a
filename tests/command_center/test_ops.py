"""Health, metrics, start-up refusals and the migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from command_center.app import create_app
from command_center.database.core import make_engine
from command_center.database.migrate import (
    SchemaOutOfDateError,
    current_revision,
    head_revision,
    include_name,
    upgrade,
)
from command_center.database.registry import metadata
from config.settings import SettingsError
from tests.conftest import make_settings
from tests.services import fresh_postgres_database


def test_healthz_reports_database_and_bus(client: TestClient, database_url: str) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database_backend"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    assert body["bus"] == "ok"


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/restaurants/r001")  # 401, but counted under its template
    text = client.get("/metrics").text
    assert (
        'mscc_http_requests_total{method="GET",route="/api/restaurants/{restaurant_id}",status="401"}' in text
    )
    assert "mscc_ws_clients" in text


def test_serving_an_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDateError, match="mscc db upgrade"):
        create_app(settings)


def test_placeholder_secret_stops_start_up(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'x.db'}", environment="production", secret_key="changeme"
    )
    with pytest.raises(SettingsError):
        create_app(settings)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_the_models(backend: str, tmp_path: Path) -> None:
    """The migrations create exactly the schema the ORM models describe, on both databases."""

    def check(url: str) -> None:
        engine = make_engine(url)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}),
                metadata(),
            )
        engine.dispose()
        assert diff == []

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with fresh_postgres_database() as url:
            check(url)
