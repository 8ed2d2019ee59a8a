"""Bringing a database to the current schema, and refusing to run on an outdated one.

``kairos migrate`` and the embedded server call :func:`upgrade`; a server given an
external ``--database-url`` calls :func:`check_schema` at start-up so that it
fails with instructions instead of with a missing table later. Both are
synchronous (Alembic is); from async code run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Engine, create_engine, func, literal, pool, select

from scheduler.store.database import database_url

__all__ = ["MIGRATION_LOCK_KEY", "SchemaNotMigrated", "alembic_config", "check_schema", "upgrade"]

MIGRATION_LOCK_KEY = 0x4B41_4952_4F53  # "KAIROS"
"""Key of the PostgreSQL advisory lock held while migrating, shared by every Kairos."""

_SCRIPT_LOCATION = Path(__file__).parent / "migrations"


class SchemaNotMigrated(RuntimeError):
    """The database is not at the schema revision this version of Kairos needs."""


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the Kairos migrations against ``url`` (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    # ConfigParser interpolates "%": escape it, URLs may contain percent-encoding.
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every pending migration to the database at ``url``.

    Runs under a PostgreSQL advisory lock, so concurrent runs (two replicas
    starting at once) apply each migration exactly once: the later run waits,
    then finds the database at head and does nothing.
    """
    config = alembic_config(url)
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(
                select(func.pg_advisory_lock(literal(MIGRATION_LOCK_KEY, BigInteger)))
            )
            # The lock belongs to the session: end the implicit transaction so that
            # Alembic starts (and commits) its own. Closing the connection (there is
            # no pool) ends the session and releases the lock, on errors too.
            connection.commit()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def check_schema(url: str) -> None:
    """Raise ``SchemaNotMigrated`` unless the database at ``url`` is at the latest revision.

    The message names the database (password hidden), its revision, the expected
    one and the command that fixes it.
    """
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    if sorted(current) == sorted(heads):
        return
    shown = _hide_password(url)
    state = f"is at revision {', '.join(current)}" if current else "has no Kairos schema"
    password = " (with the real password)" if shown != url else ""
    raise SchemaNotMigrated(
        f"the database at {shown} {state}, expected head {', '.join(heads)}; "
        f"run `kairos migrate --database-url '{shown}'`{password} to migrate it"
    )


def _hide_password(url: str) -> str:
    # Rewrites the text rather than re-rendering a parsed URL, which would
    # percent-encode the query (a unix-socket host) into something unreadable.
    # libpq also takes the password as a query parameter (?password=…).
    hidden = re.sub(r"^([^:/]+://[^:/@?]*:)[^/?]*@", r"\1***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", hidden, flags=re.IGNORECASE)


def _engine(url: str) -> Engine:
    # No pool: the connection (and with it any advisory lock) ends when closed.
    return create_engine(database_url(url), poolclass=pool.NullPool)
