"""Process-wide logging: human text for a terminal, JSON lines for log collectors."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum

from pythonjsonlogger.json import JsonFormatter


class LogFormat(StrEnum):
    """How log records are written to stderr."""

    TEXT = "text"
    """One readable line per record, ids appended as key=value."""
    JSON = "json"
    """One JSON object per line: time, level, logger, message and the record's ids."""


CONTEXT_FIELDS = ("invocation_id", "execution_id", "instance_id")
"""Ids that log calls pass in ``extra`` and that every format shows."""


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        return f"{line} {' '.join(ids)}" if ids else line


def configure(level: str = "INFO", log_format: LogFormat = LogFormat.TEXT) -> None:
    """Send every logger's records to stderr in ``log_format`` at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(
            JsonFormatter(
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
