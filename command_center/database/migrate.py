"""Alembic driven from code: ``mscc db upgrade``, the demo's start-up and the tests use these."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_MIGRATIONS = Path(__file__).with_name("migrations")
# Storage that exists only on PostgreSQL, below a model's table: the month partitions of ``positions``
# (migration 0008, ``inspection.gps.storage``). The model describes the parent table.
_PARTITION = re.compile(r"^positions_(default|y\d{4}m\d{2})$")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's filter: compare the models with everything but the partitions of a table."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


class SchemaOutOfDateError(RuntimeError):
    """The database is not at the newest migration; the message says what to run."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str:
    """The newest migration shipped with this version."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_head(engine: Engine) -> None:
    """Refuse to serve on a database that is not migrated to this version's head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"database schema is at {current or 'nothing (empty database)'}, this version needs {head}: "
            "run `mscc db upgrade` first"
        )
