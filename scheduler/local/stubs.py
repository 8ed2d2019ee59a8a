"""Async client stubs on one channel to a Kairos server: what tests and benchmarks call it with."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from kairos.v1 import (
    activation_pb2_grpc,
    command_pb2_grpc,
    fleet_pb2_grpc,
    invocation_pb2_grpc,
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
    metadata: tuple[tuple[str, str], ...] = ()


def connect(address: str, token: str | None = None) -> Kairos:
    """Client stubs for ``address``, sending ``token`` as a bearer token."""
    channel = grpc.aio.insecure_channel(address)
    return Kairos(
        address=address,
        channel=channel,
        commands=command_pb2_grpc.CommandServiceStub(channel),
        invocations=invocation_pb2_grpc.InvocationServiceStub(channel),
        fleet=fleet_pb2_grpc.FleetServiceStub(channel),
        activations=activation_pb2_grpc.ActivationServiceStub(channel),
        metadata=(("authorization", f"Bearer {token}"),) if token else (),
    )
