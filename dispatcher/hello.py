"""The first message of an agent stream: read, checked, and turned into the domain's Hello."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from kairos.v1 import agent_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import OsType
from scheduler.domain.errors import invalid
from scheduler.domain.hello import HELLO_LIMITS, check_held, check_hello
from scheduler.domain.models import AgentHello
from scheduler.domain.protocol import negotiated
from scheduler.domain.tags import check_tags
from scheduler.rpc.convert import from_proto, tags_from_proto

HELLO_TIMEOUT = 10.0
"""Seconds an agent has to send Hello after opening its stream."""


async def read_hello(requests: AsyncIterator[agent_pb2.AgentMessage]) -> agent_pb2.Hello:
    """The stream's Hello, or INVALID_ARGUMENT naming what is wrong with it."""
    try:
        first = await asyncio.wait_for(anext(requests), HELLO_TIMEOUT)
    except (TimeoutError, StopAsyncIteration):
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            "hello",
            f"send Hello within {HELLO_TIMEOUT:.0f} s of connecting",
        ) from None
    if first.WhichOneof("kind") != "hello":
        raise invalid(RefusalCode.INVALID_PARAM_HELLO, "hello", "the first message must be Hello")
    hello = first.hello
    check_hello({name: getattr(hello, name) for name in HELLO_LIMITS})
    check_held(hello.held.execution_ids)
    # A bad tag refuses the Hello (INVALID_ARGUMENT naming hello.tags[i]), as any bad
    # Hello field does: the agent checks its --tag with the same rules before it sends.
    check_tags(tags_from_proto(hello.tags), "hello.tags")
    if hello.os_type != 0 and from_proto(OsType, hello.os_type) is None:
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            "hello.os_type",
            f"os_type {hello.os_type} is not a known OsType; leave it unset for Linux",
        )
    return hello


def agent_hello(hello: agent_pb2.Hello) -> AgentHello:
    """A checked Hello (``read_hello``) as the domain records it."""
    return AgentHello(
        instance_id=hello.instance_id,
        name=hello.instance_name,
        # UNSPECIFIED (0) means Linux; an unknown value was refused by read_hello.
        os_type=from_proto(OsType, hello.os_type) or OsType.LINUX,
        agent_version=hello.agent_version,
        time_zone=hello.time_zone or "UTC",
        boot_id=hello.boot_id,
        tags=tuple(tags_from_proto(hello.tags)),
    )


def spoken_protocol(hello: agent_pb2.Hello) -> int:
    """The protocol version the server speaks with the agent of ``hello``; an agent too old,
    or a version that is none, is refused (``domain.protocol.negotiated``)."""
    return negotiated(hello.protocol)


def held_executions(hello: agent_pb2.Hello) -> list[str] | None:
    """The executions the agent says it holds; None for an older agent that does not say."""
    return list(hello.held.execution_ids) if hello.HasField("held") else None
