"""The migrations build exactly the schema the tables declare, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from control_plane.store.engine import sync_url
from control_plane.store.metadata import load_metadata
from control_plane.store.migrate import upgrade_database_sync


def test_the_migrated_schema_matches_the_tables(database_url: str) -> None:
    upgrade_database_sync(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, load_metadata())
    finally:
        engine.dispose()
    assert differences == []


def test_audit_sequence_numbers_are_64_bit(database_url: str) -> None:
    upgrade_database_sync(database_url)
    engine = sa.create_engine(sync_url(database_url))
    try:
        columns = {
            (table, column["name"]): column["type"]
            for table in ("audit_record", "audit_checkpoint", "erasure_request")
            for column in sa.inspect(engine).get_columns(table)
        }
    finally:
        engine.dispose()
    for key in (
        ("audit_record", "seq"),
        ("audit_checkpoint", "first_seq"),
        ("audit_checkpoint", "head_seq"),
        ("erasure_request", "audit_seq"),
    ):
        # SQLite's INTEGER is 64-bit; PostgreSQL's must be BIGINT, not 32-bit INTEGER.
        assert isinstance(columns[key], sa.BigInteger | sa.Integer)
        if not database_url.startswith("sqlite"):
            assert isinstance(columns[key], sa.BigInteger), key
