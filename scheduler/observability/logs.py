"""Process-wide logging: human text for a terminal, JSON lines for log collectors."""

from __future__ import annotations

import logging
import sys
import traceback
from enum import StrEnum
from types import TracebackType

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.exc import StatementError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class LogFormat(StrEnum):
    """How log records are written to stderr."""

    TEXT = "text"
    """One readable line per record, ids appended as key=value."""
    JSON = "json"
    """One JSON object per line: time, level, logger, message and the record's ids."""


CONTEXT_FIELDS = ("invocation_id", "execution_id", "instance_id")
"""Ids that log calls pass in ``extra`` and that every format shows."""


def format_exception(error: BaseException) -> str:
    """A traceback of ``error`` and its causes, with no SQL statement and no values in it.

    A database error's text carries the statement (``[SQL: …]``) and PostgreSQL's
    message may quote the values it refused: both can hold a script or a secret.
    Such an error is shown by its kind only (the driver's error class and SQLSTATE).
    """
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__
        current = (
            cause if cause is not None or current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for number, link in enumerate(reversed(chain)):
        if number:
            parts.append(
                "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        parts.append(f"{type(link).__module__}.{type(link).__qualname__}: {_safe_text(link)}\n")
    return "".join(parts).rstrip("\n")


def _safe_text(error: BaseException) -> str:
    if isinstance(error, StatementError):
        error = error.orig if error.orig is not None else error
        return f"{type(error).__name__}{_sqlstate(error)} (statement and values not logged)"
    if hasattr(error, "sqlstate"):  # a driver error: PostgreSQL's message may quote values
        return f"{type(error).__name__}{_sqlstate(error)} (message not logged)"
    return str(error)


def _sqlstate(error: BaseException) -> str:
    code = getattr(error, "sqlstate", None)
    return f" [SQLSTATE {code}]" if code else ""


def _format_exc_info(ei: ExcInfo) -> str:
    error = ei[1]
    return "" if error is None else format_exception(error)


class _TextFormatter(logging.Formatter):
    def formatException(self, ei: ExcInfo) -> str:
        return _format_exc_info(ei)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        return f"{line} {' '.join(ids)}" if ids else line


class _JsonFormatter(JsonFormatter):
    def formatException(self, ei: ExcInfo) -> str:
        return _format_exc_info(ei)


def configure(level: str = "INFO", log_format: LogFormat = LogFormat.TEXT) -> None:
    """Send every logger's records to stderr in ``log_format`` at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(
            _JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library warnings become records too, so a JSON log stays all JSON.
    logging.captureWarnings(True)
    # pgserver narrates every command it runs at INFO; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
