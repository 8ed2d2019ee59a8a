"""The fleet benchmark's baseline: the agent protocol's push and ack, and nothing else.

Run by ``bench.fleet_bench`` as a process of its own (so that its CPU and memory
are measured as the Kairos server's are):

    .venv/bin/python -m bench.fleet_bare --listen 127.0.0.1:7000

A plain ``grpc.aio`` server with no database, no logging and no bookkeeping beyond
what the protocol needs, serving on one port:

* ``AgentService.Connect`` as Kairos speaks it: Hello, Welcome (with the heartbeat
  interval and the protocol, 2 for an agent that says 2), then Tasks pushed on the
  stream; on protocol 2 the results of each message (a Reports message, or a result
  alone) are acknowledged with one ResultAcks, on protocol 1 each with a ResultAck;
  acknowledgements, starts and heartbeats are read and dropped;
* ``InvocationService.RunCommand`` (Kairos's own messages, so the same client stub
  calls both servers): a Task to each named instance, answered once every result
  is in; every other method is unimplemented;
* ``grpc.health.v1`` (always SERVING), for the readiness wait.

It takes the same pending-call limits as ``kairos server`` (``scheduler.server.app.FLEET``):
with gRPC's defaults a storm of 10,000 streams is partly refused, which would make
the baseline slower than a server sized for a fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from kairos.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    invocation_pb2,
    invocation_pb2_grpc,
)
from scheduler.domain.protocol import SERVER_PROTOCOL, speaks_reports
from scheduler.server.app import FLEET

TASK_TIMEOUT = 60  # seconds, as a Task carries; nothing here enforces it

Outbox = asyncio.Queue[agent_pb2.DispatcherMessage]


@dataclass
class _Invocation:
    """A RunCommand waiting for its results."""

    remaining: int
    done: asyncio.Event = field(default_factory=asyncio.Event)


# The generated servicer bases carry no types.
class BareServer(
    agent_pb2_grpc.AgentServiceServicer,  # type: ignore[misc]
    invocation_pb2_grpc.InvocationServiceServicer,  # type: ignore[misc]
):
    """Agents' streams by instance id, and the invocations waiting for their results."""

    def __init__(self, heartbeat_interval: int) -> None:
        self._heartbeat_interval = heartbeat_interval
        self._outboxes: dict[str, Outbox] = {}
        self._waiting: dict[str, _Invocation] = {}  # execution id → its invocation
        self._numbers = itertools.count(1)

    async def Connect(
        self,
        requests: AsyncIterator[agent_pb2.AgentMessage],
        context: grpc.aio.ServicerContext[agent_pb2.AgentMessage, agent_pb2.DispatcherMessage],
    ) -> AsyncIterator[agent_pb2.DispatcherMessage]:
        first = await anext(requests, None)
        if first is None or first.WhichOneof("kind") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be hello")
            return
        instance_id = first.hello.instance_id
        protocol = min(first.hello.protocol or 1, SERVER_PROTOCOL)
        outbox: Outbox = asyncio.Queue()
        self._outboxes[instance_id] = outbox
        reader = asyncio.create_task(self._read(requests, outbox, protocol))
        try:
            welcome = agent_pb2.Welcome(
                heartbeat_interval_seconds=self._heartbeat_interval, protocol=protocol
            )
            yield agent_pb2.DispatcherMessage(welcome=welcome)
            while True:
                yield await outbox.get()
        finally:
            reader.cancel()
            if self._outboxes.get(instance_id) is outbox:  # not replaced by a newer stream
                del self._outboxes[instance_id]

    async def _read(
        self, requests: AsyncIterator[agent_pb2.AgentMessage], outbox: Outbox, protocol: int
    ) -> None:
        async for message in requests:
            kind = message.WhichOneof("kind")
            if kind == "result":
                finished = [message.result.execution_id]
            elif kind == "reports":
                finished = [
                    report.result.execution_id
                    for report in message.reports.reports
                    if report.WhichOneof("report") == "result"
                ]
            else:
                finished = []  # acknowledgements, starts, heartbeats
            if not finished:
                continue
            if speaks_reports(protocol):
                acks = agent_pb2.ResultAcks(execution_ids=finished)
                outbox.put_nowait(agent_pb2.DispatcherMessage(result_acks=acks))
            else:
                for execution_id in finished:
                    ack = agent_pb2.ResultAck(execution_id=execution_id)
                    outbox.put_nowait(agent_pb2.DispatcherMessage(result_ack=ack))
            for execution_id in finished:
                self._finished(execution_id)

    def _finished(self, execution_id: str) -> None:
        invocation = self._waiting.pop(execution_id, None)
        if invocation is not None:
            invocation.remaining -= 1
            if invocation.remaining == 0:
                invocation.done.set()

    async def RunCommand(
        self,
        request: invocation_pb2.RunCommandRequest,
        context: grpc.aio.ServicerContext[
            invocation_pb2.RunCommandRequest, invocation_pb2.RunCommandResponse
        ],
    ) -> invocation_pb2.RunCommandResponse:
        instance_ids = list(dict.fromkeys(request.instance_ids))
        if not instance_ids:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "instance_ids: name at least one instance"
            )
        for instance_id in instance_ids:
            if instance_id not in self._outboxes:
                await context.abort(
                    grpc.StatusCode.NOT_FOUND, f"instance_ids: {instance_id} is not connected"
                )
        invoke_id = f"t-bare-{next(self._numbers)}"
        invocation = _Invocation(remaining=len(instance_ids))
        for k, instance_id in enumerate(instance_ids):
            execution_id = f"{invoke_id}-{k}"
            self._waiting[execution_id] = invocation
            task = agent_pb2.Task(
                execution_id=execution_id,
                invoke_id=invoke_id,
                command_id="c-bare",
                type=request.type,
                script=request.command_content.encode(),
                timeout=TASK_TIMEOUT,
            )
            self._outboxes[instance_id].put_nowait(agent_pb2.DispatcherMessage(task=task))
        await invocation.done.wait()
        return invocation_pb2.RunCommandResponse(command_id="c-bare", invoke_id=invoke_id)


async def serve(listen: str, heartbeat_interval: int) -> None:
    """Serve on ``listen`` until the process is stopped."""
    server = grpc.aio.server(options=FLEET)
    bare = BareServer(heartbeat_interval)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(bare, server)
    invocation_pb2_grpc.add_InvocationServiceServicer_to_server(bare, server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(listen)
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", required=True, help="HOST:PORT to serve on")
    parser.add_argument(
        "--heartbeat-interval", type=int, default=30, help="seconds, sent in Welcome (default 30)"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.heartbeat_interval))


if __name__ == "__main__":
    main()
