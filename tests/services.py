"""Reaching the real services the tests use; in CI a missing service fails the test instead of skipping it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("MSCC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def in_ci() -> bool:
    """True when running under CI (CI=true), where every real-service test must run."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere, saying what is missing and how to start it."""
    if in_ci():
        pytest.fail(f"{what} is not reachable, and CI must run this test")
    pytest.skip(f"{what} is not reachable")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for one test module and drop it afterwards; yields its URL."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mscc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} ({type(exc).__name__})")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
