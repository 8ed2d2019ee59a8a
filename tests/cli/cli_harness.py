"""A scripted Kairos API on a real socket, and a way to run `kairos` against it.

The server speaks the real kairos.v1 services on 127.0.0.1, port 0; each test
scripts the replies it needs and reads back the exact requests (and metadata)
the CLI sent. Methods a test did not script answer UNIMPLEMENTED.
"""

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from kairos.v1 import activation_pb2, command_pb2, file_pb2, fleet_pb2, invocation_pb2, tag_pb2

SERVICES: list[ServiceDescriptor] = [
    command_pb2.DESCRIPTOR.services_by_name["CommandService"],
    invocation_pb2.DESCRIPTOR.services_by_name["InvocationService"],
    fleet_pb2.DESCRIPTOR.services_by_name["FleetService"],
    activation_pb2.DESCRIPTOR.services_by_name["ActivationService"],
    tag_pb2.DESCRIPTOR.services_by_name["TagService"],
    file_pb2.DESCRIPTOR.services_by_name["FileService"],
]

# A unary behaviour returns the response; a streaming one is an async generator.
Behaviour = Callable[[Any, Any], Any]


@dataclass
class Call:
    """One request the server received."""

    method: str
    request: Any
    metadata: dict[str, str]


@dataclass
class ScriptedServer:
    """The scripted API: `reply`/`on` say what to answer, `calls` holds what came in."""

    address: str = ""
    calls: list[Call] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)

    def reply(self, method: str, *responses: Message) -> None:
        """Answer `Service/Method` with these responses in turn (the last one repeats)."""
        queue = list(responses)

        async def answer(request: Any, context: Any) -> Message:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.behaviours[method] = answer

    def on(self, method: str, behaviour: Behaviour) -> None:
        """Answer `Service/Method` with `behaviour(request, context)`."""
        self.behaviours[method] = behaviour

    def requests(self, method: str) -> list[Any]:
        """The requests of `Service/Method`, in order."""
        return [call.request for call in self.calls if call.method == method]

    def handlers(self) -> list[Any]:
        """gRPC generic handlers for every method of the client API."""
        return [
            grpc.method_handlers_generic_handler(
                service.full_name,
                {method.name: self._handler(service, method) for method in service.methods},
            )
            for service in SERVICES
        ]

    def _handler(self, service: ServiceDescriptor, method: MethodDescriptor) -> Any:
        name = f"{service.name}/{method.name}"
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)

        def record(request: Any, context: Any) -> Behaviour | None:
            metadata = {item.key: item.value for item in context.invocation_metadata()}
            self.calls.append(Call(name, request, metadata))
            return self.behaviours.get(name)

        if method.server_streaming:

            async def stream(request: Any, context: Any) -> AsyncIterator[Message]:
                behaviour = record(request, context)
                if behaviour is None:
                    await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} not scripted")
                    return
                async for event in behaviour(request, context):
                    yield event

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=request_class.FromString,
                response_serializer=response_class.SerializeToString,
            )

        async def unary(request: Any, context: Any) -> Any:
            behaviour = record(request, context)
            if behaviour is None:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} not scripted")
            return await behaviour(request, context)  # type: ignore[misc]

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )


@dataclass
class Outcome:
    """What one `kairos` run did."""

    code: int
    out: str
    err: str


async def kairos(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Outcome:
    """Run `kairos ARGV` as a real process, with `env` added to a clean environment, in
    `cwd` (default: this process's working directory).

    A real process: the exit code, stdout and stderr are exactly what an
    operator's shell sees, and the CLI's blocking client stays off the event
    loop that serves it. `KAIROS_*` variables of the caller are dropped, and its config
    file is out of reach (`XDG_CONFIG_HOME` names a directory that does not exist, unless
    `env` gives one).
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    environment["XDG_CONFIG_HOME"] = "/nonexistent/kairos-tests"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scheduler.cli",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment | (env or {}),
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())
