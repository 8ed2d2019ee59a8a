"""Opaque next_token values: round trips, and garbage refused as INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.store.paging import decode_token, encode_token, token_timestamp

from .expect import assert_refusal

# What encode_token is given: values read from columns, which hold no NUL and no lone
# surrogate.
column_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
keys = st.lists(st.one_of(column_text, st.integers(min_value=-(2**63), max_value=2**63 - 1)))


def assert_bad_token(token: str, arity: int) -> None:
    with pytest.raises(KairosError) as info:
        decode_token(token, arity)
    assert_refusal(
        info.value,
        ErrorKind.INVALID_ARGUMENT,
        "InvalidParam.NextToken",
        "next_token",
        "next_token",
    )


def raw_token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@given(keys)
def test_round_trip(key: list[str | int]) -> None:
    token = encode_token(key)
    assert decode_token(token, len(key)) == key


@given(keys)
def test_tokens_are_url_safe_without_padding(key: list[str | int]) -> None:
    token = encode_token(key)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_empty_token_means_first_page() -> None:
    assert decode_token("", 2) is None


def test_wrong_arity_fails() -> None:
    token = encode_token(["2026-01-01T00:00:00+00:00", "c-1"])
    assert decode_token(token, 2) == ["2026-01-01T00:00:00+00:00", "c-1"]
    assert_bad_token(token, 1)
    assert_bad_token(token, 3)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "a",
        "====",
        "é",
        "\x00",
        " ",
        raw_token(b"not json"),
        raw_token(b"\xff\xfe\x00"),
        raw_token(b'{"a": 1}'),
        raw_token(b'"text"'),
        raw_token(b"1"),
        raw_token(b"null"),
        raw_token(b"[1, 2"),
    ],
)
def test_garbage_fails(token: str) -> None:
    assert_bad_token(token, 1)
    assert_bad_token(token, 2)


@pytest.mark.parametrize(
    "key",
    [[None], [1.5], [True], [[1]], [{"a": 1}], [float("nan")]],
)
def test_keys_other_than_strings_and_integers_fail(key: list[object]) -> None:
    assert_bad_token(raw_token(json.dumps(key).encode()), 1)


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b", "\udfff"])
def test_text_no_column_holds_fails(text: str) -> None:
    # Before, it reached the database: INTERNAL instead of INVALID_ARGUMENT.
    assert_bad_token(raw_token(json.dumps(["2026-01-01T00:00:00+00:00", text]).encode()), 2)


def test_deeply_nested_json_fails_cleanly() -> None:
    assert_bad_token(raw_token(b"[" * 100_000), 1)


@given(st.text(max_size=40))
def test_any_text_decodes_or_fails_with_invalid_argument(token: str) -> None:
    try:
        key = decode_token(token, 2)
    except KairosError as error:
        assert error.code == "InvalidParam.NextToken"
    else:
        assert key is None or (len(key) == 2 and all(type(k) in (str, int) for k in key))


def test_timestamp_round_trip() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    [value] = decode_token(encode_token([moment.isoformat()]), 1) or []
    assert token_timestamp(value) == moment
    offset = datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    assert token_timestamp(offset.isoformat()) == offset


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00", 5, "1.5"])
def test_timestamp_garbage_fails(value: str | int) -> None:
    with pytest.raises(KairosError) as info:
        token_timestamp(value)
    assert_refusal(info.value, ErrorKind.INVALID_ARGUMENT, "InvalidParam.NextToken", "next_token")


def test_integers_beyond_bigint_fail() -> None:
    assert decode_token(encode_token([2**63 - 1, -(2**63)]), 2) == [2**63 - 1, -(2**63)]
    assert_bad_token(raw_token(json.dumps([2**63]).encode()), 1)
    assert_bad_token(raw_token(json.dumps([-(2**63) - 1]).encode()), 1)
