"""Async client stubs on one channel to a Kairos server: what tests and benchmarks call it with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from kairos.v1 import (
    activation_pb2_grpc,
    command_pb2_grpc,
    file_pb2_grpc,
    fleet_pb2_grpc,
    invocation_pb2_grpc,
    tag_pb2_grpc,
)


@dataclass(kw_only=True)
class Kairos:
    """Stubs on a channel to the running server."""

    address: str
    channel: grpc.aio.Channel
    commands: command_pb2_grpc.CommandServiceStub
    invocations: invocation_pb2_grpc.InvocationServiceStub
    fleet: fleet_pb2_grpc.FleetServiceStub
    activations: activation_pb2_grpc.ActivationServiceStub
    tags: tag_pb2_grpc.TagServiceStub
    files: file_pb2_grpc.FileServiceStub
    metadata: tuple[tuple[str, str], ...] = ()


def connect(address: str, token: str | None = None, tls: Tls | None = None) -> Kairos:
    """Client stubs for ``address``, sending ``token`` as a bearer token; TLS with ``tls``."""
    channel = open_channel(address, tls)
    return Kairos(
        address=address,
        channel=channel,
        commands=command_pb2_grpc.CommandServiceStub(channel),
        invocations=invocation_pb2_grpc.InvocationServiceStub(channel),
        fleet=fleet_pb2_grpc.FleetServiceStub(channel),
        activations=activation_pb2_grpc.ActivationServiceStub(channel),
        tags=tag_pb2_grpc.TagServiceStub(channel),
        files=file_pb2_grpc.FileServiceStub(channel),
        metadata=(("authorization", f"Bearer {token}"),) if token else (),
    )


@dataclass(frozen=True)
class Tls:
    """How a local client speaks TLS to a server: whom it trusts, and the name to check."""

    credentials: grpc.ChannelCredentials
    server_name: str | None = None
    """The name the server's certificate carries, when it is not the address's host."""


def open_channel(
    address: str, tls: Tls | None, options: Sequence[tuple[str, int | str]] = ()
) -> grpc.aio.Channel:
    """A channel to ``address``: TLS with ``tls``, plaintext without."""
    if tls is None:
        return grpc.aio.insecure_channel(address, options=options)
    if tls.server_name:
        options = [*options, ("grpc.ssl_target_name_override", tls.server_name)]
    return grpc.aio.secure_channel(address, tls.credentials, options=options)
