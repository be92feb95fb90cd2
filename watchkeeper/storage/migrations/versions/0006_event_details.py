"""Event details from rules and tamper detection: rule, zone, class, track, best frame, direction, count.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("rule", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("zone", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("object_class", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("track_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("best_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("direction", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("object_count", sa.Integer(), nullable=True))
    op.create_index("ix_events_object_class_start", "events", ["object_class", "start"], unique=False)
    op.create_index("ix_events_kind_start", "events", ["kind", "start"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_kind_start", table_name="events")
    op.drop_index("ix_events_object_class_start", table_name="events")
    with op.batch_alter_table("events") as batch:
        for column in ("object_count", "direction", "best_at", "track_id", "object_class", "zone", "rule"):
            batch.drop_column(column)
