"""Segments carry their storage tier: hot (local media folder) or warm (S3 bucket, object key, SHA-256).

Revision ID: 0011_tiers
Revises: 0009
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_tiers"
down_revision: str | None = "0010_fencing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("tier", sa.String(length=8), nullable=False, server_default="hot"))
        batch.add_column(sa.Column("object_key", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_segments_tier_end", "segments", ["tier", "end"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_segments_tier_end", table_name="segments")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("sha256")
        batch.drop_column("object_key")
        batch.drop_column("tier")
