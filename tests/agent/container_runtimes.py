"""Small real container runtimes for tests: Docker's HTTP API and the CRI over unix sockets.

Each serves the part of its API the agent uses (``agent/containers/docker.py``,
``cri.py``) for a list of :class:`Box` es — containers whose first process is any
pid the test chooses, typically the namespaces of ``TargetNamespaces``, so that a
script the agent runs "in the container" really runs in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.server
import json
import socketserver
import tempfile
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc

from kairos.cri import api_pb2, api_pb2_grpc


@dataclasses.dataclass(frozen=True)
class Box:
    """A container the test runtimes report: a 64-hex id, a name, a pid, running or not."""

    id: str
    name: str
    pid: int
    running: bool = True


def box_id(number: int) -> str:
    """A distinct 64-hex container id."""
    return f"{number:064x}"


@contextlib.contextmanager
def socket_dir() -> Iterator[Path]:
    """A short directory for unix sockets (their paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="kc-", dir="/tmp") as directory:
        yield Path(directory)


# Docker --------------------------------------------------------------------------------


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    boxes: list[Box]
    requests: list[str]
    gate: threading.Event


class _DockerHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnixHttpServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        self.server.gate.wait()
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["containers", "json"]:
            query = urllib.parse.parse_qs(url.query)
            wanted = json.loads(query.get("filters", ["{}"])[0]).get("name", [""])
            # Like Docker: a name filter matches any part of the name.
            every = query.get("all") == ["1"]
            listed = [
                {"Id": b.id, "Names": [f"/{b.name}"], "State": _docker_state(b)}
                for b in self.server.boxes
                if all(w in b.name for w in wanted) and (every or b.running)
            ]
            self._answer(200, listed)
        elif len(parts) == 3 and parts[0] == "containers" and parts[2] == "json":
            found = [b for b in self.server.boxes if b.id == parts[1]]
            if not found:
                self._answer(404, {"message": f"No such container: {parts[1]}"})
                return
            [b] = found
            state = {
                "Status": _docker_state(b),
                "Running": b.running,
                "Paused": False,
                "Restarting": False,
                "Pid": b.pid if b.running else 0,
            }
            self._answer(200, {"Id": b.id, "Name": f"/{b.name}", "State": state})
        else:
            self._answer(404, {"message": "page not found"})

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a unix socket's client has no address to log


def _docker_state(box: Box) -> str:
    return "running" if box.running else "exited"


@contextlib.asynccontextmanager
async def docker_runtime(
    path: Path, boxes: list[Box], gate: threading.Event | None = None
) -> AsyncIterator[list[str]]:
    """Serve Docker's API on ``path`` for ``boxes``; yield the request targets it receives.

    With a ``gate``, each request is answered only once the gate is set (a slow runtime).
    """
    server = _UnixHttpServer(str(path), _DockerHandler)
    server.boxes = boxes
    server.requests = []
    server.gate = gate or threading.Event()
    if gate is None:
        server.gate.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.requests
    finally:
        server.gate.set()
        server.shutdown()
        server.server_close()
        await asyncio.to_thread(thread.join)
        await asyncio.to_thread(path.unlink, missing_ok=True)


# CRI -----------------------------------------------------------------------------------


class _Cri(api_pb2_grpc.RuntimeServiceServicer):  # type: ignore[misc]
    def __init__(self, boxes: list[Box]) -> None:
        self.boxes = boxes

    async def ListContainers(
        self, request: api_pb2.ListContainersRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.ListContainersResponse:
        return api_pb2.ListContainersResponse(
            containers=[
                api_pb2.Container(
                    id=b.id, metadata=api_pb2.ContainerMetadata(name=b.name), state=_cri_state(b)
                )
                for b in self.boxes
                if b.id.startswith(request.filter.id)
            ]
        )

    async def ContainerStatus(
        self, request: api_pb2.ContainerStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.ContainerStatusResponse:
        found = [b for b in self.boxes if b.id == request.container_id]
        if not found:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f'an error occurred when try to find container "{request.container_id}": not found',
            )
        [b] = found
        status = api_pb2.ContainerStatus(
            id=b.id, metadata=api_pb2.ContainerMetadata(name=b.name), state=_cri_state(b)
        )
        # containerd's verbose info: the runtime's JSON with the first process's pid.
        info = {"info": json.dumps({"pid": b.pid if b.running else 0, "sandboxID": "s-1"})}
        return api_pb2.ContainerStatusResponse(status=status, info=info if request.verbose else {})


def _cri_state(box: Box) -> api_pb2.ContainerState:
    return api_pb2.CONTAINER_RUNNING if box.running else api_pb2.CONTAINER_EXITED


@contextlib.asynccontextmanager
async def cri_runtime(path: Path, boxes: list[Box]) -> AsyncIterator[None]:
    """Serve the CRI's RuntimeService (the agent's part of it) on ``path`` for ``boxes``."""
    server = grpc.aio.server()
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(_Cri(boxes), server)
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    try:
        yield
    finally:
        await server.stop(None)
