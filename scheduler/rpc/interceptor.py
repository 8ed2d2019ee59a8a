"""The server's interceptor: authentication and the one error-translation point."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import is_instance_credential
from scheduler.domain.enums import Role
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import Caller
from scheduler.observability import metrics
from scheduler.rpc.auth import TokenTable, bearer
from scheduler.rpc.context import RpcContext
from scheduler.rpc.in_flight import InFlight
from scheduler.rpc.validate import check_request
from scheduler.store.database import is_unavailable

log = logging.getLogger(__name__)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("kairos_caller")

_AGENT_PREFIX = "/kairos.v1.AgentService/"
_CLIENT_PREFIX = "/kairos.v1."
AGENTS_ELSEWHERE = KairosError(
    kind=ErrorKind.UNAUTHENTICATED,
    code=RefusalCode.UNAUTHENTICATED_AGENT_PORT,
    message="agents connect to the server's --agent-listen port, not to --listen (with "
    "kairos agent --tls-cert and --tls-key when it requires a client certificate)",
)
"""Why an agent call on ``--listen`` is refused when agents have a port of their own."""
SELF_AUTHENTICATED = frozenset({"/kairos.v1.AgentService/Register"})
"""Calls that carry their own proof instead of a bearer token (an activation code): no
caller is authenticated for them, but their errors are translated like any other's."""


def current_caller() -> Caller:
    """The authenticated caller of the RPC being served."""
    return _caller.get()


def required_role(method: str) -> Role | None:
    """The role an RPC needs; None for open services (health, reflection)."""
    if method.startswith(_AGENT_PREFIX):
        return Role.AGENT
    if method.startswith(_CLIENT_PREFIX):
        return Role.CLIENT
    return None


class KairosInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates each call as it opens and translates domain errors.

    A refused token aborts the call before the handler reads any message. The
    caller is put in a context variable for the servicers (``current_caller``);
    a ``KairosError`` raised below becomes a gRPC status with ``google.rpc``
    details (BadRequest, QuotaFailure, ErrorInfo).
    """

    def __init__(
        self,
        tokens: TokenTable,
        in_flight: InFlight | None = None,
        credentials: CredentialLookup | None = None,
        *,
        agents_elsewhere: bool = False,
    ) -> None:
        """``credentials``: finds the instance an instance credential speaks for (agent
        API only); without it such a token is looked up in ``tokens`` like any other.
        ``agents_elsewhere``: this port refuses agent calls (``AGENTS_ELSEWHERE``)."""
        self._tokens = tokens
        self._in_flight = in_flight or InFlight()
        self._credentials = credentials
        self._agents_elsewhere = agents_elsewhere

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        role = required_role(details.method)
        if handler is None or role is None:
            return handler
        authorization = dict(details.invocation_metadata or ()).get("authorization")
        token = bearer(authorization)
        caller: Authentication
        if self._agents_elsewhere and role is Role.AGENT:
            caller = AGENTS_ELSEWHERE
        elif details.method in SELF_AUTHENTICATED:
            caller = None
        elif (
            role is Role.AGENT
            and self._credentials is not None
            and is_instance_credential(token)
            and token not in self._tokens.callers
        ):
            # Read from the database as the call opens, in its task: its errors are
            # translated like any other's.
            caller = functools.partial(self._credentials, token)
        else:
            caller = self._tokens.authenticate(authorization, role)
        # Client calls (and registrations) are what a graceful stop waits for; agent
        # streams never end by themselves.
        counted = role is Role.CLIENT or caller is None
        return _wrap(handler, details.method, caller, self._in_flight if counted else None)


CredentialLookup: TypeAlias = Callable[[str], Awaitable[Caller | KairosError]]
"""The agent an instance credential speaks for, or why it is refused."""
Authentication: TypeAlias = (
    "Caller | KairosError | Callable[[], Awaitable[Caller | KairosError]] | None"
)
"""Who calls: known as the call opens, or to be read (a credential), or None for a call
that carries its own proof (``SELF_AUTHENTICATED``)."""


_FACTORIES = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def _wrap(
    handler: Handler,
    method: str,
    caller: Authentication,
    in_flight: InFlight | None,
) -> Handler:
    kind = next(k for k in _FACTORIES if getattr(handler, k) is not None)
    behavior = getattr(handler, kind)
    counting = in_flight.call if in_flight is not None else contextlib.nullcontext
    # Client requests arrive whole and are checked here; agent messages, on a stream,
    # are validated by the agent stream servicer as they come.
    checked = not handler.request_streaming

    if handler.response_streaming:

        async def streaming(request: Any, context: RpcContext) -> AsyncIterator[Any]:
            await _enter(caller, context, method)
            with counting():
                async with _refusals(context, method):
                    if checked:
                        check_request(request)
                    async for message in behavior(request, context):
                        yield message

        wrapped: Callable[..., Any] = streaming
    else:

        async def single(request: Any, context: RpcContext) -> Any:
            await _enter(caller, context, method)
            with counting():
                async with _refusals(context, method):
                    if checked:
                        check_request(request)
                    return await behavior(request, context)

        wrapped = single
    return _FACTORIES[kind](
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


@contextlib.asynccontextmanager
async def _refusals(context: RpcContext, method: str) -> AsyncIterator[None]:
    """Within: any error ends the call with a status — a refusal as itself, anything
    else as ``INTERNAL`` or ``UNAVAILABLE`` (``unexpected``); an abort passes through."""
    try:
        yield
    except KairosError as error:
        await abort(context, error)
    except grpc.aio.AbortError:
        raise
    except Exception as error:
        await abort(context, unexpected(error, method))


async def _enter(caller: Authentication, context: RpcContext, method: str) -> None:
    """Refuse the call or note its caller, read first if it is to be read (an instance
    credential)."""
    if callable(caller):
        try:
            caller = await caller()
        except Exception as error:
            caller = unexpected(error, method)
    if isinstance(caller, KairosError):
        await abort(context, caller)
    elif caller is not None:
        # Each RPC runs in a task of its own, so the variable never leaks to another call.
        _caller.set(caller)


_GRPC_CODES = {
    ErrorKind.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: code_pb2.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    ErrorKind.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    ErrorKind.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    ErrorKind.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    ErrorKind.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    ErrorKind.UNAVAILABLE: code_pb2.UNAVAILABLE,
    ErrorKind.INTERNAL: code_pb2.INTERNAL,
}


def unexpected(error: Exception, method: str) -> KairosError:
    """The refusal for an error nothing below turned into one; no detail of it leaves.

    The client gets a request id; the log line with the same id has the cause
    (without statement parameters: the engine hides them).
    """
    request_id = secrets.token_hex(8)
    extra = {"request_id": request_id, "method": method}
    if is_unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__, extra=extra)
        return KairosError(
            kind=ErrorKind.UNAVAILABLE,
            code=RefusalCode.SERVICE_UNAVAILABLE,
            message=f"the database is unavailable; retry later (request id {request_id})",
        )
    log.error("unexpected error in %s", method, exc_info=error, extra=extra)
    return KairosError(
        kind=ErrorKind.INTERNAL,
        code=RefusalCode.INTERNAL_ERROR,
        message=f"internal error (request id {request_id})",
    )


async def abort(context: RpcContext, error: KairosError) -> None:
    """End the call with the gRPC status of ``error`` and its rich details."""
    if error.quota:
        metrics.quota_exceeded.labels(error.quota).inc()
    await context.abort_with_status(rpc_status.to_status(to_status(error)))


def to_status(error: KairosError) -> status_pb2.Status:
    """The ``google.rpc.Status`` of a domain error."""
    details = [
        error_details_pb2.ErrorInfo(reason=error.code, domain="kairos"),
    ]
    if error.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
    if error.quota:
        details.append(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=error.quota, description=error.message
                    )
                ]
            )
        )
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(
        code=_GRPC_CODES[error.kind], message=f"{error.code}: {error.message}", details=packed
    )
