"""Opaque ``next_token`` values for keyset paging."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, tuple_

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid


def encode_token(key: list[str | int]) -> str:
    """The token that resumes a listing after the row with sort key ``key``."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_token(token: str, arity: int) -> list[str | int] | None:
    """The sort key encoded in ``token``; None for an empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(map(_is_key_part, key)):
        raise invalid(RefusalCode.INVALID_PARAM_NEXT_TOKEN, "next_token", "next_token is not valid")
    return key


def newest_first(
    query: Select[Any],
    created_at: ColumnElement[datetime],
    key: ColumnElement[str],
    next_token: str,
    page_size: int,
) -> Select[Any]:
    """``query`` newest first by ``(created_at, key)``, resumed after ``next_token``.

    One row more than the page is read, so that ``newest_first_token`` can tell
    whether another page follows.
    """
    after = decode_token(next_token, 2)
    if after is not None:
        query = query.where(
            tuple_(created_at, key) < tuple_(token_timestamp(after[0]), str(after[1]))
        )
    return query.order_by(created_at.desc(), key.desc()).limit(page_size + 1)


def newest_first_token(keys: Sequence[tuple[datetime, str]], page_size: int) -> str:
    """The token after a ``newest_first`` page, given the ``(created_at, key)`` of its rows."""
    if len(keys) <= page_size:
        return ""
    created_at, key = keys[page_size - 1]
    return encode_token([created_at.isoformat(), key])


def token_integer(value: str | int) -> int:
    """The integer part of a decoded token (a crafted token may hold text there)."""
    if isinstance(value, int):
        return value
    raise invalid(RefusalCode.INVALID_PARAM_NEXT_TOKEN, "next_token", "next_token is not valid")


def token_timestamp(value: str | int) -> datetime:
    """The timestamp part of a decoded token."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid(
            RefusalCode.INVALID_PARAM_NEXT_TOKEN, "next_token", "next_token is not valid"
        ) from None


def _is_key_part(value: object) -> bool:
    # Only what encode_token writes: integers a BIGINT column can hold, and text a TEXT
    # column can (JSON can carry a NUL, or half a surrogate pair, which no column holds).
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return type(value) is str and "\x00" not in value and _is_utf8(value)


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
