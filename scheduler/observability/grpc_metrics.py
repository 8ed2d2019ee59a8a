"""A server interceptor that counts and times every RPC (health and reflection included)."""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from scheduler.observability import metrics

_KINDS = {
    "unary_unary": (grpc.unary_unary_rpc_method_handler, "unary"),
    "unary_stream": (grpc.unary_stream_rpc_method_handler, "server_stream"),
    "stream_unary": (grpc.stream_unary_rpc_method_handler, "client_stream"),
    "stream_stream": (grpc.stream_stream_rpc_method_handler, "bidi_stream"),
}


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Records grpc_server_* series for each call."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        kind = next(k for k in _KINDS if getattr(handler, k) is not None)
        factory, grpc_type = _KINDS[kind]
        service, _, method = details.method.strip("/").rpartition("/")
        labels = (grpc_type, service, method)
        behavior = getattr(handler, kind)
        return factory(
            _instrument(behavior, labels, handler.request_streaming, handler.response_streaming),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _Counted:
    """A request stream that counts its messages.

    A plain iterator rather than an async generator: wrapping grpc's request
    stream in a generator hid a vanished peer from the handler.
    """

    def __init__(self, requests: AsyncIterator[Any], labels: tuple[str, str, str]) -> None:
        self._requests = requests
        # Looked up once: an agent stream carries many messages.
        self._received = metrics.grpc_msg_received.labels(*labels)

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> Any:
        request = await self._requests.__anext__()
        self._received.inc()
        return request


def _instrument(
    behavior: Callable[..., Any],
    labels: tuple[str, str, str],
    request_streaming: bool,
    response_streaming: bool,
) -> Callable[..., Any]:
    def count_requests(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return _Counted(requests, labels)

    def finish(start: float, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        code = context.code() or grpc.StatusCode.OK
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        metrics.grpc_handled.labels(*labels, name).inc()
        metrics.grpc_handling_seconds.labels(*labels).observe(time.perf_counter() - start)

    if response_streaming and inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metrics.grpc_started.labels(*labels).inc()
            start = time.perf_counter()
            if request_streaming:
                request = count_requests(request)
            sent = metrics.grpc_msg_sent.labels(*labels)
            try:
                async for response in behavior(request, context):
                    sent.inc()
                    yield response
            finally:
                finish(start, context)

        return streaming

    # Unary responses, and streaming handlers that write with context.write (health's
    # Watch): one coroutine each.
    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        metrics.grpc_started.labels(*labels).inc()
        start = time.perf_counter()
        if request_streaming:
            request = count_requests(request)
        try:
            return await behavior(request, context)
        finally:
            finish(start, context)

    return single
