"""The migrations produce exactly the schema of the models, apply safely, and are checked.

The reference is a database made by ``metadata.create_all``; the migrated one must
match it column by column, index by index (partial ``WHERE`` included) and
constraint by constraint, as PostgreSQL itself describes them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from scheduler.store.database import database_url as sqlalchemy_url
from scheduler.store.migrate import (
    MIGRATION_LOCK_KEY,
    SchemaNotMigrated,
    alembic_config,
    check_schema,
    upgrade,
)
from scheduler.store.tables import metadata

REPO = Path(__file__).resolve().parents[2]

# How PostgreSQL describes the schema, each query giving rows to compare as a set.
CATALOG: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class')
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'alembic_version%'
    """,
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname <> 'alembic_version' AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'alembic_version'
    """,
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
          AND conrelid::regclass::text <> 'alembic_version'
    """,
}


def catalog(url: str) -> dict[str, set[tuple[Any, ...]]]:
    """The schema of the database at ``url`` as PostgreSQL's catalogs describe it."""
    with psycopg.connect(url) as connection:
        return {
            name: set(connection.execute(query.encode()).fetchall())
            for name, query in CATALOG.items()
        }


def create_all(url: str) -> None:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def test_migrated_schema_equals_the_models(database_url: str, empty_database_url: str) -> None:
    create_all(empty_database_url)

    migrated, models = catalog(database_url), catalog(empty_database_url)

    assert migrated["relations"], "the migrated database has no tables"
    differences = {
        part: {
            "only in the migrations": sorted(migrated[part] - models[part], key=repr),
            "only in the models": sorted(models[part] - migrated[part], key=repr),
        }
        for part in CATALOG
        if migrated[part] != models[part]
    }
    assert differences == {}


def test_alembic_finds_nothing_to_autogenerate(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "compare_server_default": True},
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    before = catalog(database_url)

    command.downgrade(alembic_config(database_url), "base")
    assert all(rows == set() for rows in catalog(database_url).values())
    with pytest.raises(SchemaNotMigrated, match="has no Kairos schema"):
        check_schema(database_url)

    upgrade(database_url)
    assert catalog(database_url) == before
    check_schema(database_url)


def test_concurrent_upgrades_apply_the_migrations_once(empty_database_url: str) -> None:
    # Hold the migration lock so that both runs are certainly in flight at once,
    # then let them race for it.
    with psycopg.connect(empty_database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from scheduler.store.migrate import upgrade; upgrade(sys.argv[1])",
                    empty_database_url,
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        try:
            _wait_for_lock_waiters(holder, 2, runs)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        outputs = [run.communicate(timeout=60)[0].decode() for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    with psycopg.connect(empty_database_url) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head(),)
        ]
    check_schema(empty_database_url)


def test_a_failed_upgrade_changes_nothing_and_releases_the_lock(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE instances (squatter int)")

    with pytest.raises(Exception, match="already exists"):
        upgrade(empty_database_url)

    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        assert tables == [("instances",)]  # no alembic_version, no half-made schema
        # The failed run's session ends when its connection closes, but its backend
        # exits a moment later: wait for the lock (bounded), not try it once.
        connection.execute("SET lock_timeout = '10s'")
        connection.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        held = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert held.fetchone() == (1,)


def test_check_schema_names_the_database_the_state_and_the_fix(empty_database_url: str) -> None:
    # Local connections are trusted, so the password is ignored, but it must not be shown.
    with_password = empty_database_url.replace(
        "postgresql://postgres@", "postgresql://postgres:s3cret@"
    )

    with pytest.raises(SchemaNotMigrated) as raised:
        check_schema(with_password)

    message = str(raised.value)
    assert "postgresql://postgres:***@/test_" in message
    assert "s3cret" not in message
    assert "has no Kairos schema" in message
    assert f"expected head {head()}" in message
    assert "kairos migrate --database-url" in message

    upgrade(with_password)
    check_schema(with_password)


def test_a_password_given_as_a_query_parameter_is_not_shown_either(
    empty_database_url: str,
) -> None:
    # libpq takes ?password=… too (before, the message showed it, twice).
    with_password = empty_database_url + "&password=s3cret&sslmode=disable"
    with pytest.raises(SchemaNotMigrated) as raised:
        check_schema(with_password)
    message = str(raised.value)
    assert "s3cret" not in message
    assert "password=***&sslmode=disable" in message


def test_check_schema_names_an_unknown_revision(database_url: str) -> None:
    check_schema(database_url)
    with psycopg.connect(database_url) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00d'")

    with pytest.raises(SchemaNotMigrated, match=f"is at revision f00d, expected head {head()}"):
        check_schema(database_url)


def _wait_for_lock_waiters(
    connection: psycopg.Connection[Any], count: int, runs: list[subprocess.Popen[bytes]]
) -> None:
    # pg_locks offers no notification: poll it, with a deadline.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = connection.execute(
            """
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid::bigint = %(key)s >> 32 AND objid::bigint = %(key)s & 4294967295
            """,
            {"key": MIGRATION_LOCK_KEY},
        ).fetchone()
        if waiting is not None and waiting[0] >= count:
            return
        if any(run.poll() is not None for run in runs):
            pytest.fail("an upgrade ended before reaching the migration lock")
        time.sleep(0.02)
    pytest.fail(f"fewer than {count} upgrades waited for the migration lock within 30 s")


def test_kairos_migrate_twice_at_once_leaves_one_schema(empty_database_url: str) -> None:
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scheduler.cli",
                "migrate",
                "--database-url",
                empty_database_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("database schema is up to date" in output for output in outputs)
    check_schema(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert versions == [(head(),)]
