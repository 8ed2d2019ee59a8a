"""``in_transaction``: real serialization failures and deadlocks are retried, nothing else is.

Conflicts are provoked for real on the ``account_usage`` table, two transactions
interleaved step by step with events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.store.database import create_engine, database_url, in_transaction, is_transient
from scheduler.store.embedded import EmbeddedPostgres
from scheduler.store.listener import conninfo

SELECT_USAGE = text("SELECT commands FROM account_usage WHERE account_id = :a AND region_id = 'r'")
SET_USAGE = text("UPDATE account_usage SET commands = :n WHERE account_id = :a AND region_id = 'r'")
SUM_USAGE = text("SELECT sum(commands) FROM account_usage WHERE account_id IN ('a', 'b')")


async def _seed(engine: AsyncEngine, *accounts: str) -> None:
    async with engine.begin() as connection:
        for account in accounts:
            await connection.execute(
                text("INSERT INTO account_usage (account_id, region_id) VALUES (:a, 'r')"),
                {"a": account},
            )


async def _usage(engine: AsyncEngine, account: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(SELECT_USAGE, {"a": account})).scalar_one())


async def test_retries_a_serialization_failure_and_returns_the_result(
    engine: AsyncEngine,
) -> None:
    await _seed(engine, "a")
    victim_read, rival_committed = asyncio.Event(), asyncio.Event()
    runs = 0

    async def victim(connection: AsyncConnection) -> int:
        nonlocal runs
        runs += 1
        used = int((await connection.execute(SELECT_USAGE, {"a": "a"})).scalar_one())
        if runs == 1:
            victim_read.set()
            await rival_committed.wait()
        # The first run's snapshot predates the rival's commit: 40001 here.
        await connection.execute(SET_USAGE, {"a": "a", "n": used + 1})
        return used + 1

    async def rival() -> None:
        await victim_read.wait()
        async with engine.begin() as connection:
            await connection.execute(SET_USAGE, {"a": "a", "n": 10})
        rival_committed.set()

    result, _ = await asyncio.gather(
        in_transaction(engine, victim, isolation_level="SERIALIZABLE"), rival()
    )

    assert runs == 2
    assert result == 11
    assert await _usage(engine, "a") == 11


async def test_retries_a_serialization_failure_raised_at_commit(engine: AsyncEngine) -> None:
    # Write skew: each transaction reads both rows and writes one. Both run
    # SERIALIZABLE; the rival commits first, so the victim fails at COMMIT.
    await _seed(engine, "a", "b")
    victim_wrote, rival_committed = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def victim(connection: AsyncConnection) -> int:
        runs.append("started")
        total = int((await connection.execute(SUM_USAGE)).scalar_one())
        await connection.execute(SET_USAGE, {"a": "a", "n": total + 1})
        if len(runs) == 1:
            victim_wrote.set()
            await rival_committed.wait()
        runs[-1] = "returned"
        return total + 1

    async def rival() -> None:
        await victim_wrote.wait()
        serializable = engine.execution_options(isolation_level="SERIALIZABLE")
        async with serializable.begin() as connection:
            total = int((await connection.execute(SUM_USAGE)).scalar_one())
            await connection.execute(SET_USAGE, {"a": "b", "n": total + 100})
        rival_committed.set()

    result, _ = await asyncio.gather(
        in_transaction(engine, victim, isolation_level="SERIALIZABLE"), rival()
    )

    assert runs == ["returned", "returned"]  # the first run's work completed; its commit failed
    assert result == 101
    assert (await _usage(engine, "a"), await _usage(engine, "b")) == (101, 100)


async def test_retries_a_deadlock(engine: AsyncEngine) -> None:
    await _seed(engine, "a", "b")
    locked = {"a": asyncio.Event(), "b": asyncio.Event()}
    runs = {"a": 0, "b": 0}

    def locking(first: str, then: str) -> Callable[[AsyncConnection], Awaitable[str]]:
        async def work(connection: AsyncConnection) -> str:
            runs[first] += 1
            # Detect the deadlock after 50 ms instead of the default second.
            await connection.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            await connection.execute(SET_USAGE, {"a": first, "n": 1})
            if runs[first] == 1:
                locked[first].set()
                await locked[then].wait()
            await connection.execute(SET_USAGE, {"a": then, "n": 2})
            return first

        return work

    results = await asyncio.gather(
        in_transaction(engine, locking("a", "b")), in_transaction(engine, locking("b", "a"))
    )

    assert list(results) == ["a", "b"]
    assert sorted(runs.values()) == [1, 2]  # exactly one of the two was chosen as the victim


async def test_gives_up_after_the_last_attempt(engine: AsyncEngine) -> None:
    runs = 0

    async def always_conflicting(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
        )

    with pytest.raises(DBAPIError) as raised:
        await in_transaction(engine, always_conflicting, attempts=3)

    assert runs == 3
    assert is_transient(raised.value)


async def test_does_not_retry_other_database_errors(engine: AsyncEngine) -> None:
    await _seed(engine, "a")
    runs = 0

    async def duplicate(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(
            text("INSERT INTO account_usage (account_id, region_id) VALUES ('a', 'r')")
        )

    with pytest.raises(IntegrityError):
        await in_transaction(engine, duplicate)
    assert runs == 1


async def test_rolls_back_and_propagates_other_errors(engine: AsyncEngine) -> None:
    runs = 0

    async def half_done(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(
            text("INSERT INTO account_usage (account_id, region_id) VALUES ('a', 'r')")
        )
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await in_transaction(engine, half_done)

    assert runs == 1
    async with engine.connect() as connection:
        assert (await connection.execute(SELECT_USAGE, {"a": "a"})).first() is None


async def test_runs_the_work_again_on_a_fresh_connection_when_a_pooled_one_was_dropped(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        pid = await in_transaction(
            engine, lambda c: _scalar(c, "SELECT pg_backend_pid()")
        )  # now idle in the pool
        async with await psycopg.AsyncConnection.connect(
            conninfo(database_url), autocommit=True
        ) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        runs = 0

        async def insert(connection: AsyncConnection) -> int:
            nonlocal runs
            runs += 1
            await connection.execute(
                text("INSERT INTO account_usage (account_id, region_id) VALUES ('a', 'r')")
            )
            return await _scalar(connection, "SELECT pg_backend_pid()")

        assert await in_transaction(engine, insert) != pid
        assert runs == 2  # the first run died with its connection, before any commit
        assert await _usage(engine, "a") == 0  # inserted once: a second insert would fail
    finally:
        await engine.dispose()


async def test_a_dropped_connection_is_replaced_once_not_for_ever(database_url: str) -> None:
    # Each run's connection dies under it (its backend is terminated): the work runs a
    # second time on a fresh connection, and the second death reaches the caller.
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    runs = 0

    async def doomed(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        if runs > 5:
            return  # the bug: a run again for every death; stop it rather than hang
        await connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    try:
        with pytest.raises(DBAPIError) as raised:
            await in_transaction(engine, doomed)
        assert raised.value.connection_invalidated
        assert runs == 2
    finally:
        await engine.dispose()


async def _scalar(connection: AsyncConnection, query: str) -> int:
    return int((await connection.execute(text(query))).scalar_one())


async def test_commits_the_result(engine: AsyncEngine) -> None:
    async def insert(connection: AsyncConnection) -> str:
        await connection.execute(
            text("INSERT INTO account_usage (account_id, region_id, commands) VALUES ('a', 'r', 3)")
        )
        return "done"

    assert await in_transaction(engine, insert) == "done"
    assert await _usage(engine, "a") == 3


def test_database_url_selects_psycopg() -> None:
    for given in ("postgresql://u:p@h:5432/db", "postgres://u:p@h:5432/db"):
        assert database_url(given) == "postgresql+psycopg://u:p@h:5432/db"
    assert (
        database_url("postgresql+psycopg://u@/db?host=/s") == "postgresql+psycopg://u@/db?host=/s"
    )
    with pytest.raises(ValueError, match="postgresql://"):
        database_url("mysql://u@h/db")
    with pytest.raises(ValueError):
        create_engine("sqlite:///x.db")


async def test_sessions_run_in_utc_whatever_the_server_default(postgres: EmbeddedPostgres) -> None:
    url = postgres.url_for("postgres")
    with psycopg.connect(conninfo(url), autocommit=True) as admin:
        admin.execute("ALTER DATABASE postgres SET TimeZone = 'Asia/Tokyo'")
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            zone = (await conn.execute(text("SHOW TimeZone"))).scalar_one()
            now = (await conn.execute(text("SELECT now()"))).scalar_one()
        assert zone == "UTC"
        assert now.utcoffset() == timedelta(0)
    finally:
        await engine.dispose()
        with psycopg.connect(conninfo(url), autocommit=True) as admin:
            admin.execute("ALTER DATABASE postgres RESET TimeZone")
