"""Docker Engine's HTTP API on its unix socket: the two endpoints that find a container.

``GET /containers/{id}/json`` (inspect: ``Name``, ``State.Running``, ``State.Pid``) and
``GET /containers/json?all=1&filters={"name":[...]}`` (list by name). The standard
library's ``http.client`` speaks HTTP/1.1 (chunked answers included) over a unix socket
in a worker thread; a question takes at most ``LOOKUP_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any

from agent.containers.runtime import LOOKUP_TIMEOUT, Container, RuntimeUnavailable


class DockerRuntime:
    """Docker Engine at a unix socket."""

    def __init__(self, socket_path: Path) -> None:
        self._socket_path = socket_path

    @property
    def where(self) -> str:
        """Docker and its socket."""
        return f"Docker at {self._socket_path}"

    async def by_id(self, container_id: str) -> Container | None:
        """Inspect the container of this id."""
        found = await self._get(f"/containers/{urllib.parse.quote(container_id, safe='')}/json")
        if found is None:
            return None
        state = found.get("State") or {}
        return Container(
            id=str(found.get("Id", "")),
            name=str(found.get("Name", "")).removeprefix("/"),
            running=bool(state.get("Running"))
            and not state.get("Paused")
            and not state.get("Restarting"),
            pid=int(state.get("Pid") or 0),
        )

    async def by_name(self, name: str) -> list[Container]:
        """List the containers of this name, stopped ones too."""
        query = urllib.parse.urlencode({"all": "1", "filters": json.dumps({"name": [name]})})
        listed = await self._get(f"/containers/json?{query}")
        # Docker's name filter matches a part of the name: keep the exact ones.
        return [
            Container(
                id=str(entry.get("Id", "")),
                name=name,
                running=entry.get("State") == "running",
                pid=0,
            )
            for entry in listed or []
            if f"/{name}" in (entry.get("Names") or [])
        ]

    async def _get(self, target: str) -> Any:
        """The decoded JSON answer to a GET, or None for 404."""
        return await asyncio.to_thread(self._get_blocking, target)

    def _get_blocking(self, target: str) -> Any:
        connection = _UnixConnection(self._socket_path)
        try:
            connection.request("GET", target, headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise RuntimeUnavailable(f"{self.where}: {error}") from error
        finally:
            connection.close()
        if response.status == 404:
            return None
        if response.status != 200:
            raise RuntimeUnavailable(
                f"{self.where} answered {response.status}: {body[:200].decode(errors='replace')}"
            )
        try:
            return json.loads(body)
        except ValueError as error:
            raise RuntimeUnavailable(f"{self.where} answered no JSON: {error}") from error


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over a unix socket (Docker answers any Host)."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__("docker", timeout=LOOKUP_TIMEOUT)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock
