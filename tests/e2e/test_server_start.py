"""End to end, a ``kairos server`` start that cannot complete: an auth file it cannot use,
a port it cannot have, or a stop signal while it waits on its database. Each ends the
process at once, cleanly: one line on stderr, no traceback, nothing left taken in the
database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scheduler.local import free_port, kairos_command

pytestmark = pytest.mark.e2e

START_SECONDS = 60
"""Bound on a start that fails, or stops on a signal: a hang fails the test instead."""


def server_command(database_url: str, *flags: str) -> list[str]:
    return kairos_command(
        [
            "server",
            "--database-url",
            database_url,
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--roles",
            "api,dispatcher,ticker",
            *flags,
        ]
    )


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}


def start(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a server start that must fail, to its end."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        env=environment(),
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        holder.listen()
        yield holder.getsockname()[1]


def leases(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM dispatchers").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"token": "s3cret-client", "account": "A" * 65},
            "[[tokens]] entry 2: 'account' is 65 characters; the limit is 64",
        ),
        (
            {"token": "s3cret-client ", "account": "111"},
            "[[tokens]] entry 2: the token may hold only printable ASCII, without spaces",
        ),
    ],
)
def test_an_unusable_auth_file_stops_the_start_naming_the_entry_not_its_token(
    tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(
        '[[tokens]]\ntoken = "s3cret-agent"\naccount = "111"\nregion = "r"\nrole = "agent"\n'
        f'[[tokens]]\ntoken = "{entry["token"]}"\naccount = "{entry["account"]}"\n'
        'region = "r"\nrole = "client"\n'
    )
    # The file is read before the database is needed: none is there to reach.
    nowhere = "postgresql://nobody@127.0.0.1:1/none"
    refused = start(server_command(nowhere, "--auth-file", str(auth)))
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.splitlines() == [f"error: {auth}: {message}"]
    assert "s3cret" not in refused.stderr + refused.stdout


@pytest.mark.parametrize(
    "flag",
    ["--listen", "--agent-listen", "--health-listen", "--metrics-listen"],
)
def test_a_port_in_use_stops_the_start_naming_its_flag_and_leaves_nothing_taken(
    database_url: str, taken_port: int, flag: str
) -> None:
    started = start(server_command(database_url, flag, f"127.0.0.1:{taken_port}"))
    assert started.returncode == 1, started.stderr
    assert f"error: {flag} 127.0.0.1:{taken_port}: cannot listen there" in started.stderr
    assert "Traceback" not in started.stderr
    assert "listening" not in started.stdout
    # A port taken after the dispatcher started (the health port's) gives its lease back.
    assert leases(database_url) == 0


async def test_a_stop_signal_while_the_start_waits_on_the_database_stops_it(
    database_url: str,
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as db:
        # The dispatcher's lease is the start's first write: it waits for this lock.
        await db.execute("LOCK TABLE dispatchers IN ACCESS EXCLUSIVE MODE")
        server = await asyncio.create_subprocess_exec(
            *server_command(database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(),
        )
        try:
            await asyncio.wait_for(lock_waited_for(db), START_SECONDS)
            server.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(server.communicate(), START_SECONDS)
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
        await db.rollback()
    assert server.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"listening" not in stdout
    assert b"stopped before serving" in stderr
    assert leases(database_url) == 0


async def lock_waited_for(db: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Return once another session waits for a lock this one holds."""
    while True:
        waiting = await (
            await db.execute(
                # pg_locks is read live; pg_stat_activity would be frozen in a transaction.
                "SELECT count(*) FROM pg_locks "
                "WHERE NOT granted AND relation = 'dispatchers'::regclass"
            )
        ).fetchone()
        if waiting is not None and waiting[0]:
            return
        await asyncio.sleep(0.1)  # a poll of the database, not a synchronisation
