"""Tasks for an agent session, and its stream's side: taking from the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from dispatcher.session import AgentSession
from scheduler.domain.enums import CommandType, InvocationStatus
from scheduler.domain.tenancy import DEFAULT_TENANT, InstanceKey
from scheduler.store.dispatch import TaskView

AGENT = InstanceKey(DEFAULT_TENANT, "i-1")


def task(n: int, status: InvocationStatus = InvocationStatus.PENDING) -> TaskView:
    return TaskView(
        execution_id=f"e-{n}",
        invocation_id="t-1",
        command_id="c-1",
        command_type=CommandType.RUN_SHELL_SCRIPT,
        script=b"true",
        working_dir="",
        username="",
        timeout=60,
        dry_run=False,
        container_id="",
        container_name="",
        scheduled_at=datetime.now(UTC),
        status=status,
        instance=AGENT,
        due_at=datetime.now(UTC),
    )


async def drain(session: AgentSession, count: int) -> list[str]:
    """Take ``count`` messages as the stream does; the task ids among them."""
    ids = []
    for _ in range(count):
        message = await asyncio.wait_for(session.next_message(), 1)
        assert message is not None
        if message.WhichOneof("kind") == "task":
            ids.append(message.task.execution_id)
    return ids
