"""A camera's day may have more than one data key: one made by a worker while the store was away.

A worker that cannot reach the store makes the data key of a new day itself (wrapped by the master key,
under an id of its own) and writes it through its outbox before the segments sealed with it; another worker,
or the store itself, may hold a key for the same camera and day already. Keys stay unique by id.

The downgrade fails (and changes nothing) while a camera's day has more than one key.

Revision ID: 0014_data_keys_per_day
Revises: 0013_segments_camera_tier
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_data_keys_per_day"
down_revision: str | None = "0013_segments_camera_tier"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys") as batch:
        batch.drop_constraint("uq_data_keys_camera_id_day", type_="unique")
    op.create_index("ix_data_keys_camera_id_day", "data_keys", ["camera_id", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_keys_camera_id_day", table_name="data_keys")
    with op.batch_alter_table("data_keys") as batch:
        batch.create_unique_constraint("uq_data_keys_camera_id_day", ["camera_id", "day"])
