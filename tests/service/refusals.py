"""Refused calls as a client sees them: status, message and google.rpc details."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from scheduler.domain.codes import RefusalCode

DETAILS_KEY = "grpc-status-details-bin"


@dataclass(kw_only=True, frozen=True)
class Refusal:
    """What a refused call carried: its status, message and unpacked details."""

    status: grpc.StatusCode
    message: str
    info: error_details_pb2.ErrorInfo
    bad_request: error_details_pb2.BadRequest | None
    quota_failure: error_details_pb2.QuotaFailure | None

    def assert_code(self, status: grpc.StatusCode, code: RefusalCode, message: str) -> None:
        """The status, ``ErrorInfo`` and message say ``code``; the message is ``Code: message``."""
        assert self.status == status
        assert (self.info.reason, self.info.domain) == (code.value, "kairos")
        assert self.message == f"{code.value}: {message}"


def decode(error: grpc.aio.AioRpcError) -> Refusal:
    """The rich status of a refused call, from its ``grpc-status-details-bin`` trailer."""
    trailers = error.trailing_metadata() or ()
    [packed_status] = [value for key, value in trailers if key == DETAILS_KEY]
    assert isinstance(packed_status, bytes)
    status = status_pb2.Status.FromString(packed_status)
    # The packed status repeats the call's own status; a client may read either.
    assert (status.code, status.message) == (error.code().value[0], error.details())
    found: dict[type[Any], Any] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
        ):
            if packed.Is(kind.DESCRIPTOR):
                assert kind not in found, f"two {kind.__name__} details"
                found[kind] = kind()
                packed.Unpack(found[kind])
                break
        else:
            raise AssertionError(f"unexpected detail {packed.type_url}")
    assert error_details_pb2.ErrorInfo in found, "every refusal carries ErrorInfo"
    return Refusal(
        status=error.code(),
        message=error.details() or "",
        info=found[error_details_pb2.ErrorInfo],
        bad_request=found.get(error_details_pb2.BadRequest),
        quota_failure=found.get(error_details_pb2.QuotaFailure),
    )


async def refused(call: Awaitable[Any]) -> Refusal:
    """Await a unary call that must be refused and decode its rich status."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return decode(raised.value)


def violations(refusal: Refusal) -> list[tuple[str, str]]:
    assert refusal.bad_request is not None, "an invalid argument carries BadRequest"
    return [(v.field, v.description) for v in refusal.bad_request.field_violations]
