"""64-bit ids for the tables that grow with recording: segments, webhook deliveries, incident history, audit.

At 10,000 cameras with 10 s segments the index gains ~86 million segment rows a day; a 32-bit ``integer`` id
(at most 2,147,483,647) runs out in under a month. PostgreSQL widens the columns to ``bigint`` and their
sequences to ``AS bigint`` (a ``serial`` sequence is ``AS integer`` and stops at the same limit whatever the
column's type). SQLite is left as it is: its ``INTEGER PRIMARY KEY`` is the 64-bit row id already.

On PostgreSQL the change rewrites each table under an exclusive lock: on a large index, run it in a
maintenance window. The downgrade fails (and changes nothing) once an id is beyond the 32-bit range.

Revision ID: 0012_bigint_ids
Revises: 0011_tiers
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_bigint_ids"
down_revision: str | None = "0011_tiers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED: tuple[tuple[str, str], ...] = (
    ("segments", "id"),
    ("webhook_deliveries", "id"),
    ("incident_journal", "seq"),
    ("incident_transitions", "id"),
    ("incident_escalations", "id"),
    ("audit_log", "seq"),
)
"""(table, column) made 64-bit; each has a sequence but ``audit_log.seq`` (numbered by the chain)."""


def _retype(*, widen: bool) -> None:
    """Make every ``WIDENED`` column (and its sequence) ``bigint`` (``widen``) or ``integer`` again."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    new, old = (sa.BigInteger(), sa.Integer()) if widen else (sa.Integer(), sa.BigInteger())
    for table, column in WIDENED:
        found = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column})
        sequence = found.scalar()
        if sequence is not None and widen:
            op.execute(f"ALTER SEQUENCE {sequence} AS bigint")
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=False)
        if sequence is not None and not widen:
            op.execute(f"ALTER SEQUENCE {sequence} AS integer")


def upgrade() -> None:
    _retype(widen=True)


def downgrade() -> None:
    _retype(widen=False)
