"""Chain of custody: the hash-chained audit log, unmask grants, wrapped data keys and evidence exports.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target"], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_table(
        "unmask_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("camera_ids", sa.Text(), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("requested_at"),
        sa.Column("valid_hours", sa.Float(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _at("expires_at", nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        _at("decided_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        _at("revoked_at", nullable=True),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmask_grants")),
    )
    op.create_index("ix_unmask_grants_requester", "unmask_grants", ["requester"], unique=False)
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.UniqueConstraint("camera_id", "day", name="uq_data_keys_camera_id_day"),
    )
    op.create_table(
        "evidence_exports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _at("created_at"),
        sa.Column("camera_ids", sa.Text(), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rendition", sa.String(length=16), nullable=False),
        sa.Column("bundle", sa.String(length=1024), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("lock_ids", sa.Text(), nullable=False),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        _at("released_at", nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_exports")),
    )


def downgrade() -> None:
    op.drop_table("evidence_exports")
    op.drop_table("data_keys")
    op.drop_index("ix_unmask_grants_requester", table_name="unmask_grants")
    op.drop_table("unmask_grants")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_table("audit_log")
