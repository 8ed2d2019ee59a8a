"""The one error root of the domain.

Every refusal is a ``KairosError`` with a stable ``code`` from the catalogue
(``codes.RefusalCode``) and a message naming the field and the rule. The API's
error interceptor is the single place that turns them into gRPC statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from scheduler.domain.codes import QuotaName, RefusalCode


class ErrorKind(Enum):
    """The gRPC status class of an error, named by what went wrong."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, for google.rpc.BadRequest details."""

    field: str
    description: str


@dataclass(kw_only=True)
class KairosError(Exception):
    """A refused request: nothing was changed."""

    kind: ErrorKind
    code: RefusalCode
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    quota: QuotaName | None = None
    """Set for quota errors: the name of the exhausted quota."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def invalid(code: RefusalCode, field_name: str, message: str) -> KairosError:
    """A bad value in one request field."""
    return KairosError(
        kind=ErrorKind.INVALID_ARGUMENT,
        code=code,
        message=message,
        violations=[FieldViolation(field_name, message)],
    )


def not_found(code: RefusalCode, message: str) -> KairosError:
    """A named resource does not exist (or belongs to another account)."""
    return KairosError(kind=ErrorKind.NOT_FOUND, code=code, message=message)


def quota_exceeded(code: RefusalCode, quota: QuotaName, message: str) -> KairosError:
    """A quota would be exceeded by the request."""
    return KairosError(kind=ErrorKind.RESOURCE_EXHAUSTED, code=code, message=message, quota=quota)


def precondition(code: RefusalCode, message: str) -> KairosError:
    """The request is valid but the system is not in a state that allows it."""
    return KairosError(kind=ErrorKind.FAILED_PRECONDITION, code=code, message=message)
