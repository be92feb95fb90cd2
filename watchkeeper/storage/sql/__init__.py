"""SQLAlchemy backend of the ``Store`` protocol (SQLite embedded default, PostgreSQL for many hosts)."""
