"""The embedded PostgreSQL: start, serve, stop, restart on the same data, refuse bad dirs."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from scheduler.store.database import create_engine
from scheduler.store.embedded import EmbeddedPostgres, EmbeddedPostgresError


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_starts_serves_stops_and_restarts_with_its_data(embedded_data_dir: Path) -> None:
    with EmbeddedPostgres(embedded_data_dir) as pg:
        assert pg.url.startswith("postgresql+psycopg://postgres@/postgres?host=")
        socket = pg.socket_dir / ".s.PGSQL.5432"
        assert socket.exists()
        with psycopg.connect(_libpq(pg.url), autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (value text)")
            connection.execute("INSERT INTO kept VALUES ('still here')")
        url = pg.url

    assert not pg.running
    assert not socket.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_libpq(url), connect_timeout=2).close()

    with EmbeddedPostgres(embedded_data_dir) as pg, psycopg.connect(_libpq(pg.url)) as connection:
        row = connection.execute("SELECT value FROM kept").fetchone()
        assert row == ("still here",)


async def test_async_context_manager_and_settings(embedded_data_dir: Path) -> None:
    async with EmbeddedPostgres(embedded_data_dir, settings={"work_mem": "7MB"}) as pg:
        engine = create_engine(pg.url)
        try:
            async with engine.connect() as connection:
                assert (await connection.execute(text("SHOW work_mem"))).scalar_one() == "7MB"
        finally:
            await engine.dispose()
    assert not pg.running


def test_stop_is_idempotent(embedded_data_dir: Path) -> None:
    pg = EmbeddedPostgres(embedded_data_dir)
    pg.stop()
    pg.start()
    pg.stop()
    pg.stop()
    with pytest.raises(EmbeddedPostgresError, match="not running"):
        _ = pg.url


def test_refuses_a_file_as_data_dir(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("not a directory")
    with pytest.raises(EmbeddedPostgresError, match="is not a directory"):
        EmbeddedPostgres(path).start()


def test_refuses_a_non_empty_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError, match="not a PostgreSQL data directory"):
        EmbeddedPostgres(tmp_path).start()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_a_path_with_spaces(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedPostgresError, match="contains whitespace"):
        EmbeddedPostgres(tmp_path / "my data").start()
    assert not (tmp_path / "my data").exists()
