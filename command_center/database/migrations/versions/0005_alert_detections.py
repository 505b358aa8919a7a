"""alert detections: the raw evidence frame and what the detector saw, for the feedback export

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("raw_evidence_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("detections", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("detections")
        batch.drop_column("raw_evidence_url")
