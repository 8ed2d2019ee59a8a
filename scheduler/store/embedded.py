"""A private PostgreSQL in a data directory, for running Kairos with no database setup.

With no ``--database-url``, ``kairos server`` runs its own PostgreSQL 16 from the
pip-installed ``pgserver`` package (initialised on first use, started, stopped on
exit); the test suite starts one the same way. The server listens on a unix
socket inside the data directory only, never on TCP, and trusts local
connections as the ``postgres`` superuser.

Sharing: ``pgserver`` counts the processes holding a data directory and stops the
server only when the last of them lets go, so two Kairos processes on one data
directory share one PostgreSQL. Within one process, use one ``EmbeddedPostgres``
per data directory at a time.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import warnings
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: harmless.
    warnings.simplefilter("ignore")
    from pgserver.postgres_server import PostgresServer, get_server
    from pgserver.utils import PostmasterInfo

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError"]

_log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 20


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL could not be started (or stopped) in its data directory."""


class EmbeddedPostgres:
    """A PostgreSQL server of our own in ``data_dir``, as a (sync or async) context manager.

    ``data_dir`` is PostgreSQL's own directory: it must be empty, absent (it is
    created, with its parents) or a data directory made by an earlier run. Give it
    a dedicated directory, e.g. ``<kairos data dir>/postgres``.

    Run as root, PostgreSQL (which refuses to run as root) runs as the system user
    ``pgserver``, created if missing; the data directory is handed to that user and
    its ancestors are made traversable by others (o+rx).

    ``settings`` are PostgreSQL parameters applied with ``ALTER SYSTEM`` and a
    configuration reload at every start (so only reloadable ones take effect), e.g.
    ``{"fsync": "off"}`` for throw-away test servers.
    """

    def __init__(self, data_dir: Path | str, *, settings: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.settings = dict(settings or {})
        self._server: PostgresServer | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Initialise the data directory if needed and start PostgreSQL (or join a running one).

        Blocks for up to a few seconds; from async code use ``async with`` or
        ``await asyncio.to_thread(pg.start)``. Raises ``EmbeddedPostgresError`` with
        the reason (and the server log's tail, when there is one) if it cannot.
        """
        if self._server is not None:
            return
        self._check_data_dir()
        try:
            server = get_server(self.data_dir, cleanup_mode="stop")
        except Exception as error:
            raise EmbeddedPostgresError(
                f"could not start the embedded PostgreSQL in {self.data_dir}: "
                f"{_describe(error)}{self._log_tail()}"
            ) from error
        self._server = server
        try:
            self._apply_settings()
        except Exception:
            self.stop()
            raise
        _log.info("embedded PostgreSQL running in %s", self.data_dir)

    def stop(self) -> None:
        """Stop PostgreSQL, unless another process still uses the same data directory.

        Idempotent. The data directory is kept: a later ``start`` on it finds the data.
        """
        server, self._server = self._server, None
        if server is None:
            return
        # pgserver stops the server when the last process holding it lets go, going by
        # a list of pids it keeps on disk; a holder that was killed never removes its
        # pid and would keep the server running forever, so forget dead pids first.
        with server._lock:
            handles = server.global_process_id_list
            handles.put([pid for pid in handles.get() if _process_alive(pid)])
        try:
            server.cleanup()
        except Exception as error:
            raise EmbeddedPostgresError(
                f"could not stop the embedded PostgreSQL in {self.data_dir}: {_describe(error)}"
            ) from error
        _log.info("embedded PostgreSQL in %s released", self.data_dir)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- addresses -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this object holds a started server."""
        return self._server is not None

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's unix socket (``.s.PGSQL.<port>``)."""
        socket_dir = self._info().socket_dir
        if socket_dir is None:  # only on Windows, where pgserver listens on TCP
            raise EmbeddedPostgresError("the embedded PostgreSQL listens on TCP, not a socket")
        return socket_dir

    @property
    def url(self) -> str:
        """SQLAlchemy URL (``postgresql+psycopg://``) of the ``postgres`` database."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (``postgresql+psycopg://``) of ``database`` on this server."""
        info = self._info()
        name = quote(database, safe="")
        if info.socket_dir is None:
            return f"postgresql+psycopg://postgres@{info.hostname}:{info.port}/{name}"
        # Built by hand rather than with sqlalchemy's URL: it encodes a space as "+",
        # which libpq would not decode, and this string is also handed to libpq tools.
        query = "host=" + quote(str(info.socket_dir), safe="/")
        if info.port not in (None, 5432):
            query += f"&port={info.port}"
        return f"postgresql+psycopg://postgres@/{name}?{query}"

    # -- helpers -------------------------------------------------------------------

    def _info(self) -> PostmasterInfo:
        if self._server is None:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL in {self.data_dir} is not running"
            )
        return self._server.get_postmaster_info()

    def _check_data_dir(self) -> None:
        """Refuse, with a clear reason, a data directory PostgreSQL could not use."""
        path = self.data_dir
        if any(character.isspace() for character in str(path)):
            # pgserver passes the socket directory to postgres unquoted (-o "-k DIR").
            raise EmbeddedPostgresError(
                f"data directory {str(path)!r} contains whitespace, which the embedded "
                "PostgreSQL cannot use; choose a path without spaces"
            )
        try:
            if path.exists() and not path.is_dir():
                raise EmbeddedPostgresError(f"data directory {path} exists and is not a directory")
            if path.is_dir() and not (path / "PG_VERSION").exists() and any(path.iterdir()):
                raise EmbeddedPostgresError(
                    f"data directory {path} is not empty and is not a PostgreSQL data "
                    "directory; give the embedded PostgreSQL an empty or new directory"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(path.parent, os.W_OK | os.X_OK):
                raise EmbeddedPostgresError(f"data directory {path}: {path.parent} is not writable")
        except OSError as error:
            raise EmbeddedPostgresError(f"data directory {path}: {_describe(error)}") from error

    def _apply_settings(self) -> None:
        if not self.settings:
            return
        with psycopg.connect(self._libpq_url(), autocommit=True) as connection:
            for name, value in self.settings.items():
                # ALTER SYSTEM takes no bind parameters: compose the literal client-side.
                connection.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value)
                )
            connection.execute("SELECT pg_reload_conf()")

    def _libpq_url(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def _log_tail(self) -> str:
        log = self.data_dir / "log"
        try:
            lines = log.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError:
            return ""
        if not lines:
            return ""
        return f"\nlast lines of {log}:\n" + "\n".join(lines)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno == errno.EACCES:
        return f"permission denied ({error.filename or error})"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
