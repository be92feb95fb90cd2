"""Segments carry their rendition: the original recording or the protected (redacted) copy.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(
            sa.Column("rendition", sa.String(length=16), nullable=False, server_default="original")
        )
    op.create_index(
        "ix_segments_camera_id_rendition_start", "segments", ["camera_id", "rendition", "start"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_segments_camera_id_rendition_start", table_name="segments")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("rendition")
