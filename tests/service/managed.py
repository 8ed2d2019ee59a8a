"""Activations and registrations as tests drive them: over real gRPC, checked in the tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from sqlalchemy import text

from kairos.v1 import activation_pb2, agent_pb2, agent_pb2_grpc
from scheduler.local import Kairos
from scheduler.store.database import create_engine


@dataclass(frozen=True)
class Issued:
    """An activation's id and its code (shown once)."""

    activation_id: str
    code: str = field(repr=False)


async def activate(kairos: Kairos, instance_count: int = 3, **fields: object) -> Issued:
    """CreateActivation with these fields."""
    request = activation_pb2.CreateActivationRequest(
        instance_count=instance_count,
        **fields,  # type: ignore[arg-type]
    )
    created = await kairos.activations.CreateActivation(request, metadata=kairos.metadata)
    return Issued(created.activation_id, created.activation_code)


async def register(
    address: str,
    issued: Issued,
    *,
    code: str | None = None,
    hostname: str = "host-1",
    registration_id: str = "",
) -> agent_pb2.RegisterResponse:
    """AgentService.Register on a channel of its own, with no bearer token (and, unless
    ``registration_id`` is given, none: as an agent older than that field)."""
    async with grpc.aio.insecure_channel(address) as channel:
        response: agent_pb2.RegisterResponse = await agent_pb2_grpc.AgentServiceStub(
            channel
        ).Register(
            agent_pb2.RegisterRequest(
                activation_id=issued.activation_id,
                activation_code=issued.code if code is None else code,
                hostname=hostname,
                registration_id=registration_id,
            )
        )
    return response


async def describe(kairos: Kairos, activation_id: str) -> activation_pb2.Activation:
    """The activation as DescribeActivations shows it."""
    response = await kairos.activations.DescribeActivations(
        activation_pb2.DescribeActivationsRequest(activation_id=activation_id),
        metadata=kairos.metadata,
    )
    [activation] = response.activations
    return activation  # type: ignore[no-any-return]


async def every_row(database_url: str) -> str:
    """The text of every row of every table: what a stolen copy of the database shows."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
            rows: list[str] = []
            for table in list(tables):
                rows += (await conn.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars()
    finally:
        await engine.dispose()
    return "\n".join(rows)


async def expire(database_url: str, activation_id: str) -> None:
    """Make an activation expired a second ago (its time to live is an hour at least)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE activations SET expires_at = now() - interval '1 second' WHERE id = :id"
                ),
                {"id": activation_id},
            )
    finally:
        await engine.dispose()
