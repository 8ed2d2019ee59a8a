"""Connecting to PostgreSQL and running transactions that survive contention.

Every database access of Kairos goes through one ``AsyncEngine`` made by
:func:`create_engine` and, for anything that writes, through
:func:`in_transaction`, which retries the transaction when PostgreSQL aborts it
for a transient reason (serialization failure, deadlock). Callers therefore see
either their result or a real error, never a retryable one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = [
    "IsolationLevel",
    "create_engine",
    "database_url",
    "in_transaction",
    "is_transient",
    "is_unavailable",
    "log_failure",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

IsolationLevel = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "AUTOCOMMIT"]
"""``AUTOCOMMIT``: no transaction at all, so a lone read is one round trip (no BEGIN, COMMIT)."""

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
TRANSIENT_SQLSTATES = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})
"""SQLSTATEs after which re-running the whole transaction is the documented remedy."""

DEFAULT_ATTEMPTS = 10
# Backoff between attempts: exponential from the base, capped, with full jitter so
# that transactions which collided once do not collide again in lockstep.
_BACKOFF_BASE_SECONDS = 0.005
_BACKOFF_CAP_SECONDS = 0.25

OUTAGE_LOG_INTERVAL = 30.0
"""Seconds between two warnings of one background round that finds the database away."""
_outage_logged: dict[str, float] = {}

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def database_url(url: str) -> str:
    """Return ``url`` as a SQLAlchemy URL for psycopg 3 (``postgresql+psycopg://``).

    Accepts the libpq forms users type (``postgresql://…``, ``postgres://…``) and the
    SQLAlchemy form itself; anything else (another driver or database) is a
    ``ValueError`` naming the accepted schemes.
    """
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    # Name only the scheme: the rest of the URL may hold a password.
    scheme, found, _ = url.partition("://")
    given = f"scheme {scheme}://" if found else "a URL without a scheme"
    raise ValueError(
        f"unsupported database URL ({given}): expected postgresql://user:password@host:port/database"
    )


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    pool_recycle: float = 1800.0,
    echo: bool = False,
) -> AsyncEngine:
    """Create the async engine (psycopg 3) for the database at ``url``.

    ``url`` may be in libpq or SQLAlchemy form (see :func:`database_url`). Pooled
    connections are not pinged before use (a round trip more in every transaction):
    a connection the database dropped fails its first statement, which invalidates
    the whole pool, and ``in_transaction`` runs the work again on a fresh one. They
    are recycled after ``pool_recycle`` seconds so that they never outlive
    server-side idle timeouts.
    The caller owns the engine and must ``await engine.dispose()`` when done.
    """
    return create_async_engine(
        database_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle,
        pool_pre_ping=False,
        echo=echo,
        # Statement parameters (scripts, parameter values) never reach a log or an error.
        hide_parameters=True,
        # Sessions in UTC whatever the server's default: timestamps come back in UTC,
        # and now()::date is the UTC day the daily quota counts by.
        connect_args={"options": "-c TimeZone=UTC"},
    )


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` aborted a transaction that may simply be run again.

    True for serialization failures (SQLSTATE 40001) and deadlocks (40P01) only.
    """
    if not isinstance(error, DBAPIError):
        return False
    return getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


async def in_transaction(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    isolation_level: IsolationLevel | None = None,
) -> T:
    """Run ``work`` in one transaction and return its result.

    The transaction commits when ``work`` returns and rolls back when it raises.
    When PostgreSQL aborts it with a serialization failure or a deadlock (in
    ``work`` or at commit), it is rolled back and ``work`` runs again on a fresh
    transaction, after a short jittered backoff, up to ``attempts`` runs in all;
    only if the last run fails that way does the error reach the caller. A pooled
    connection found dropped before the commit (the database restarted, say: the
    transaction died with it) is replaced and ``work`` runs again at once, once; a
    connection lost during the commit is not, since the commit may have happened.
    Any other error propagates at once, after the rollback.

    Because it may run several times, ``work`` must be safe to re-run: everything
    it does goes through the connection it receives (no side effects outside the
    transaction, such as sending messages or mutating shared state; do those after
    ``in_transaction`` returns, from its result).

    ``isolation_level`` overrides the engine's (READ COMMITTED by default) for this
    transaction.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if isolation_level is not None:
        # A copy of the engine sharing its pool; the level applies per checkout.
        engine = engine.execution_options(isolation_level=isolation_level)
    attempt = 1
    replaced_stale = False
    while True:
        committing = False
        try:
            async with engine.begin() as connection:
                result = await work(connection)
                committing = True
            return result
        except DBAPIError as error:
            if error.connection_invalidated and not committing and not replaced_stale:
                # The pool is invalidated with it: the next checkout connects afresh.
                replaced_stale = True
                _log.info("a pooled database connection had been dropped; running the work again")
                continue
            if attempt == attempts or not is_transient(error):
                raise
            delay = random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt))
            _log.debug(
                "transaction attempt %d/%d aborted (%s), retrying in %.3fs",
                attempt,
                attempts,
                getattr(error.orig, "sqlstate", "?"),
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached or used right now.

    A lost or refused connection, a server shutting down, a pool with no free
    connection: the request may succeed later. Conflicts that ``in_transaction``
    retries count too once they have used up their attempts.
    """
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, ConnectionError))


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """Log that a background round (``what``) failed and will be tried again.

    While the database is unavailable: no bug, so no traceback, and the rounds
    go on failing every second or so until it is back, so one warning per
    ``what`` every ``OUTAGE_LOG_INTERVAL`` seconds (the rest at DEBUG). Any other
    error with its traceback, every time.
    """
    if not is_unavailable(error):
        logger.error("%s failed", what, exc_info=error)
        return
    now = time.monotonic()
    if now - _outage_logged.get(what, -OUTAGE_LOG_INTERVAL) >= OUTAGE_LOG_INTERVAL:
        _outage_logged[what] = now
        logger.warning("%s failed: the database is unavailable; retrying", what)
    else:
        logger.debug("%s failed: the database is unavailable; retrying", what)
