"""Type names for the gRPC edge."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

RpcContext: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
"""The context of an RPC being served, whatever its message types."""
