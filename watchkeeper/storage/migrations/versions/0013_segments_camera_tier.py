"""Indexes for a site worker's retention and tiering queries: segments by camera, tier, start and end.

With per-site media folders a worker's retention and tiering passes ask for the oldest hot segments (by
start) and the hot segments ended before a time (by end) of its own site's cameras only
(``camera_id IN (...)``); these indexes serve each camera's part of both.

Revision ID: 0013_segments_camera_tier
Revises: 0012_bigint_ids
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_segments_camera_tier"
down_revision: str | None = "0012_bigint_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_segments_camera_id_tier_start", "segments", ["camera_id", "tier", "start"], unique=False
    )
    op.create_index("ix_segments_camera_id_tier_end", "segments", ["camera_id", "tier", "end"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_segments_camera_id_tier_end", table_name="segments")
    op.drop_index("ix_segments_camera_id_tier_start", table_name="segments")
