"""Database fixtures shared by the whole suite (other fixtures live in subfolder conftests).

One PostgreSQL per test session, started the way ``kairos server`` starts its
embedded default (``EmbeddedPostgres`` in a temporary data directory); the
schema is migrated once into the template database ``kairos_template``, and
each test that asks for a database gets a fresh copy of it (``CREATE DATABASE …
TEMPLATE``, a few milliseconds), dropped afterwards.

Fixtures:

``postgres`` (session)
    The running ``EmbeddedPostgres``; ``postgres.url_for(name)`` addresses any
    database on it. Rarely needed directly.
``database_url`` (function)
    URL of a fresh, fully migrated database of the test's own, in libpq form
    (``postgresql://postgres@/test_…?host=/tmp/…``): exactly what a user passes
    to ``kairos server --database-url``, so tests starting the real server as a
    subprocess pass it along as is. For SQLAlchemy, give it to
    ``scheduler.store.database.create_engine`` (or ``database_url()``), which
    selects the psycopg 3 driver.
``empty_database_url`` (function)
    Same, but the database has no schema at all (for ``kairos migrate`` tests).
``engine`` (function, async)
    An ``AsyncEngine`` on ``database_url``, disposed after the test.
``embedded_data_dir`` (function)
    A fresh, short, absent directory (its parent exists) for a test that starts
    an embedded PostgreSQL of its own, e.g. ``kairos server --data-dir``;
    deleted afterwards. Do not use ``tmp_path`` for that (see
    ``postgres_data_dir``).

Sync and async tests can use them all except ``engine``, which needs an event
loop (it lives in the session's loop, like every async fixture here).
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.store.database import create_engine
from scheduler.store.embedded import EmbeddedPostgres
from scheduler.store.migrate import upgrade

TEMPLATE_DATABASE = "kairos_template"

# Durability is worthless for a throw-away server and costs most of the time of
# every commit and CREATE DATABASE.
_TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first, in their usual order, then the rest in theirs.

    They are the longest by far and mostly wait on wall-clock instants, so run
    in parallel (``make test``: pytest-xdist, one test at a time per worker) they
    start first and the short ones fill in around them instead of trailing.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL, with ``kairos_template`` migrated to head."""
    with (
        postgres_data_dir() as data_dir,
        EmbeddedPostgres(data_dir, settings=_TEST_SETTINGS) as server,
    ):
        with _admin(server) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DATABASE)))
        upgrade(server.url_for(TEMPLATE_DATABASE))
        with _admin(server) as admin:
            # Nobody may connect to a template while it is copied; refusing all
            # connections turns an accidental one into a clear error at its source.
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    sql.Identifier(TEMPLATE_DATABASE)
                )
            )
        yield server


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A fresh directory for a test's own embedded PostgreSQL (``kairos server --data-dir``)."""
    with postgres_data_dir() as path:
        yield path


@contextmanager
def postgres_data_dir() -> Iterator[Path]:
    """A new, short-pathed directory for an embedded PostgreSQL's data, deleted afterwards.

    Not under pytest's ``tmp_path``: run as root, PostgreSQL runs as the user
    ``pgserver`` and must traverse the path, but every pytest session starting on
    the machine resets ``/tmp/pytest-of-<user>`` to mode 0700, which would crash a
    server running under it. Short, because the unix socket lives in it and socket
    paths are limited to ~100 characters.
    """
    path = Path(tempfile.mkdtemp(prefix="kairos-pg-"))
    try:
        yield path / "data"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_regex_imported() -> None:
    """Import Hypothesis's regex support before the first test of a session.

    Hypothesis imports it on first use, and pytest rewrites (parses) every module of a
    plugin's package as it is imported. Mid-test, a garbage collection during that parse
    can run a finalizer that logs a traceback, which parses too: CPython 3.11 then fails
    the import with "SystemError: AST constructor recursion depth mismatch" (it did in
    CI). Before the first test nothing is there to collect. Not at conftest import:
    Hypothesis warns about work done while plugins load. (A private module: should it
    move, this import fails loudly.)
    """
    importlib.import_module("hypothesis.strategies._internal.regex")


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """URL (libpq form) of a fresh database migrated to head, dropped after the test."""
    yield from _temporary_database(postgres, TEMPLATE_DATABASE)


@pytest.fixture
def empty_database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """URL (libpq form) of a fresh database with no Kairos schema, dropped after the test."""
    yield from _temporary_database(postgres, "template0")


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine (psycopg 3) on the test's own migrated database."""
    engine = create_engine(database_url, pool_size=5, max_overflow=20)
    try:
        yield engine
    finally:
        await engine.dispose()


def _libpq_url(server: EmbeddedPostgres, database: str) -> str:
    """URL of ``database`` on ``server`` in the libpq form users type (``postgresql://``)."""
    return server.url_for(database).replace("postgresql+psycopg://", "postgresql://", 1)


def _temporary_database(server: EmbeddedPostgres, template: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    with _admin(server) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield _libpq_url(server, name)
    finally:
        with _admin(server) as admin:
            # FORCE terminates connections the test left open (a server
            # subprocess, an engine never disposed) instead of failing the drop.
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _admin(server: EmbeddedPostgres) -> psycopg.Connection[tuple[object, ...]]:
    # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
    return psycopg.connect(_libpq_url(server, "postgres"), autocommit=True)
