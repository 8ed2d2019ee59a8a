"""No SQL statement and no value reaches a log line through an exception's text.

The database errors are built as SQLAlchemy and psycopg raise them, with a
statement and parameters that carry a secret; both log formats must show the
error's kind and its traceback, and neither the statement nor the secret.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from scheduler.observability import logs

SECRET = "hunter2-password"


def database_error() -> DBAPIError:
    """A wrapped driver error as SQLAlchemy raises it, statement and values attached."""
    statement = f"UPDATE executions SET output = 'export PASSWORD={SECRET}'"
    driver = psycopg.errors.UniqueViolation(f"duplicate key value (id)=({SECRET})")
    try:
        try:
            raise driver
        except psycopg.Error as error:
            raise DBAPIError.instance(statement, {"p": SECRET}, error, psycopg.Error) from error
    except DBAPIError as wrapped:
        return wrapped


@pytest.fixture(params=list(logs.LogFormat))
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("INFO", request.param)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_database_error_is_logged_by_its_kind_without_statement_or_values(
    captured: io.StringIO,
) -> None:
    try:
        raise RuntimeError("while recording a result") from database_error()
    except RuntimeError:
        logging.getLogger("kairos.test").exception("agent stream failed")
    text = captured.getvalue()
    assert "agent stream failed" in text
    assert "UniqueViolation" in text and "23505" in text
    assert "while recording a result" in text  # other errors keep their text
    assert "Traceback" in text
    assert SECRET not in text
    assert "UPDATE" not in text


def test_other_errors_keep_their_message(captured: io.StringIO) -> None:
    try:
        raise ValueError("offset 7 beyond the output")
    except ValueError:
        logging.getLogger("kairos.test").exception("failed")
    assert "ValueError: offset 7 beyond the output" in captured.getvalue()
