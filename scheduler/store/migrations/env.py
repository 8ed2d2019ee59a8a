"""Alembic environment: runs the migrations on the connection ``scheduler.store.migrate`` passes.

``migrate.upgrade`` opens the connection itself (to hold the migration lock on it)
and hands it over in ``config.attributes["connection"]``; the URL in the config is
the fallback for running Alembic by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from scheduler.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
    )
    # One transaction for the whole run: PostgreSQL's DDL is transactional, so a
    # failed upgrade leaves the database exactly at the revision it started from.
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply the migrations on the given connection, or on a new one to the config's URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url", ""), poolclass=pool.NullPool)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Print the migrations as SQL (``alembic upgrade --sql``) instead of applying them."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
