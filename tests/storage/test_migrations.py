"""The Alembic migrations and the ORM models describe the same schema."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from watchkeeper.storage.sql.migrate import alembic_config, current_revision, head_revision, upgrade
from watchkeeper.storage.sql.models import Base

TABLES = {
    "alembic_version",
    "api_tokens",
    "audit_log",
    "auth_sessions",
    "cameras",
    "data_keys",
    "events",
    "evidence_exports",
    "evidence_locks",
    "fences",
    "inbound_alarm_keys",
    "incident_attachments",
    "incident_cameras",
    "incident_escalations",
    "incident_journal",
    "incident_notes",
    "incident_sop_steps",
    "incident_transitions",
    "incidents",
    "login_throttles",
    "role_grants",
    "segments",
    "sites",
    "unmask_grants",
    "users",
    "webhook_deliveries",
}


def test_migrated_schema_matches_the_models(any_url: str) -> None:
    upgrade(any_url)
    engine = create_engine(alembic_config(any_url).get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert set(inspect(conn).get_table_names()) == TABLES
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_head_is_the_newest_revision_and_versions_form_one_line() -> None:
    assert head_revision() == "0014_data_keys_per_day"


def test_downgrade_to_base_and_upgrade_again(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    command.downgrade(alembic_config(sqlite_url), "base")
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
            assert current_revision(conn) is None
        upgrade(sqlite_url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_the_comparison_sees_a_schema_that_differs(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:  # never migrated: every table is missing
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert {diff[1].name for diff in diffs if diff[0] == "add_table"} == TABLES - {"alembic_version"}
    finally:
        engine.dispose()
