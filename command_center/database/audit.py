"""Append-only audit rows, shared by every domain that keeps a trail of steps (cases, field tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from command_center.database.core import UtcDateTime


class AuditImmutableError(RuntimeError):
    """Something tried to change or delete an audit row."""


class AuditRow:
    """The columns of one recorded step: who did what, when, from which state to which. A mapped class
    adds its table name and the foreign key of what the step belongs to, then calls :func:`append_only`."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(2000))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def append_only(cls: type[AuditRow], what: str) -> None:
    """Make the ORM refuse to update or delete rows of ``cls`` (``what`` names it in the error)."""

    def refuse(_mapper: Mapper[Any], _connection: Any, target: AuditRow) -> None:
        raise AuditImmutableError(f"{what} row {target.id} is append-only")

    event.listen(cls, "before_update", refuse)
    event.listen(cls, "before_delete", refuse)
