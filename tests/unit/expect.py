"""Assertions shared by the unit tests: what a refusal must say."""

from __future__ import annotations

from scheduler.domain.errors import ErrorKind, KairosError


def assert_refusal(
    error: KairosError,
    kind: ErrorKind,
    code: str,
    field: str | None = None,
    *mentions: str,
) -> None:
    """``error`` has this kind and code, names ``field`` as its one violation, mentions all."""
    assert error.kind is kind, error
    assert error.code == code, error
    if field is not None:
        assert [v.field for v in error.violations] == [field], error.violations
        assert error.violations[0].description == error.message
    for text in mentions:
        assert text in error.message, f"{text!r} not in {error.message!r}"
