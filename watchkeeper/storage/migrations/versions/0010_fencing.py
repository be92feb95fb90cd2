"""Fencing tokens: the newest lease token seen per camera; index writes with an older one are refused.

Revision ID: 0010_fencing
Revises: 0009
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_fencing"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fences",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_fences")),
    )


def downgrade() -> None:
    op.drop_table("fences")
