"""Alembic environment: synchronous engine, metadata gathered from every domain."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from control_plane.store.metadata import load_metadata

config = context.config
target_metadata = load_metadata()


def run_migrations() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
