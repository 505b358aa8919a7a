"""ORM model of a lab result: append-only and hash-chained per lab."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from command_center.database.core import Base, UtcDateTime


class LabResult(Base):
    """One food test of one sample.

    ``seq`` numbers a lab's results 1, 2, 3, ...; ``prev_hash`` is the ``hash`` of the lab's previous
    result and ``hash`` covers every field plus ``prev_hash``. The unique ``(lab_id, seq)`` makes two
    concurrent writers unable to fork the chain: the second insert of a ``seq`` fails and retries on top
    of the first.
    """

    __tablename__ = "lab_results"
    __table_args__ = (
        UniqueConstraint("lab_id", "seq", name="uq_lab_results_lab_seq"),
        Index("ix_lab_results_street_tested", "street_id", "tested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lab_id: Mapped[str] = mapped_column(ForeignKey("labs.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sample_id: Mapped[str] = mapped_column(String(64))
    restaurant_id: Mapped[str | None] = mapped_column(ForeignKey("restaurants.id"), index=True)
    market_stall: Mapped[str | None] = mapped_column(String(200))
    street_id: Mapped[str | None] = mapped_column(ForeignKey("streets.id"))
    item: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(100))
    measured_value: Mapped[float] = mapped_column(Float)
    limit_value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    passed: Mapped[bool] = mapped_column(Boolean)
    operator: Mapped[str] = mapped_column(String(100))
    tested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LabResultImmutableError(RuntimeError):
    """Something tried to change or delete a stored lab result through the ORM."""


@event.listens_for(LabResult, "before_update")
@event.listens_for(LabResult, "before_delete")
def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: LabResult) -> None:
    raise LabResultImmutableError(f"lab result {target.id} is append-only")
