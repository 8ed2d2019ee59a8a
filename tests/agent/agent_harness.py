"""An agent without its connection: spool, runner and executions on a temp dir, for tests.

Messages the agent would send are read from the outbox queue.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.containers.locate import Locator
from agent.executions import Executions
from agent.machine import Machine
from agent.outbox import Outbox
from agent.power import PowerHook
from agent.runner import Runner
from agent.spool import Spool
from kairos.v1 import agent_pb2, common_pb2

WAIT = 15.0  # seconds before a test gives up waiting for a message
BOOT_ID = "3f1c7a52-0000-4000-8000-000000000001"

_ids = itertools.count(1)


def shell_task(script: str, **fields: Any) -> agent_pb2.Task:
    """A shell task with a fresh execution id unless one is given."""
    fields.setdefault("execution_id", f"e-{next(_ids)}")
    fields.setdefault("type", common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT)
    fields.setdefault("timeout", 60)
    return agent_pb2.Task(script=script.encode(), **fields)


class Harness:
    """Executions wired to a real spool and runner under ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        power_hook: str | None = None,
        shell: str | None = None,
        max_running: int = 10,
        max_queued: int = 50,
        containers: Locator | None = None,
        machine: Machine | None = None,
    ) -> None:
        self.spool = Spool(state_dir)
        self.outbox = Outbox()
        self.sent = self.outbox.attach()
        self.executions = Executions(
            self.spool,
            Runner(self.spool.scripts, shell=shell, containers=containers, machine=machine),
            PowerHook(power_hook),
            self.outbox,
            boot_id=BOOT_ID,
            clock=lambda: datetime.now(UTC),
            max_running=max_running,
            max_queued=max_queued,
        )
        self.messages: list[agent_pb2.AgentMessage] = []

    async def expect(self, kind: str, execution_id: str) -> agent_pb2.AgentMessage:
        """Return the next sent message of ``kind`` for ``execution_id``, skipping others."""
        async with asyncio.timeout(WAIT):
            while True:
                message = await self.sent.get()
                assert message is not None
                self.messages.append(message)
                if (
                    message.WhichOneof("kind") == kind
                    and getattr(message, kind).execution_id == execution_id
                ):
                    return message

    async def run(self, task: agent_pb2.Task) -> agent_pb2.ExecutionResult:
        """Deliver ``task`` and return its result."""
        self.executions.on_task(task)
        return (await self.expect("result", task.execution_id)).result

    def live_output(self, execution_id: str) -> bytes:
        """The live output chunks seen so far for ``execution_id``, checked contiguous."""
        data = b""
        for message in self.messages:
            output = message.output
            if message.WhichOneof("kind") == "output" and output.execution_id == execution_id:
                assert output.offset == len(data)
                data += output.data
        return data


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds: for effects outside the agent (a file, a process)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
