"""grpc.health.v1 statuses: readiness follows the database, liveness only the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from scheduler.observability import metrics
from scheduler.store.probe import DatabaseProbe

log = logging.getLogger(__name__)

LIVENESS = "liveness"
"""Health service name that stays SERVING while the process runs, database or not.

Liveness probes check it: restarting every replica would not bring a database back.
"""
PROBE_INTERVAL = 1.0
"""Seconds between two database probes."""

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def serve_health_only(address: str, servicer: health.aio.HealthServicer) -> grpc.aio.Server:
    """A started plaintext server on ``address`` answering grpc.health.v1 and nothing else.

    For probes that cannot speak TLS (the kubelet's native gRPC probes) while the main port
    does. It shares ``servicer`` with the main port, so both report the same statuses; it
    carries no secret and no call that could change anything.
    """
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(address)
    await server.start()
    return server


class Health:
    """Sets the overall status ("") and every service's from a database probe.

    They are ``NOT_SERVING`` while the database cannot be reached (readiness
    probes and load balancers then stop sending calls that could only fail)
    and ``SERVING`` again when it answers. ``LIVENESS`` is ``SERVING`` until
    the graceful shutdown, whatever the database does.
    """

    def __init__(
        self, servicer: health.aio.HealthServicer, services: list[str], probe: DatabaseProbe
    ) -> None:
        self._servicer = servicer
        self._services = ["", *services]
        self._probe = probe
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve (the server checked the database as it started), then follow the probe."""
        await self._servicer.set(LIVENESS, SERVING)
        await self._follow(reachable=True)
        self._task = asyncio.create_task(self._watch(), name="kairos-health")

    async def shutdown(self) -> None:
        """``NOT_SERVING`` for every service, for good; stop probing."""
        await self._servicer.enter_graceful_shutdown()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._probe.close()

    async def _watch(self) -> None:
        reachable = True
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            now_reachable = await self._probe.reachable()
            if now_reachable == reachable:
                continue
            reachable = now_reachable
            if reachable:
                log.info("database reachable again; health SERVING")
            else:
                log.warning("database unreachable; health NOT_SERVING until it answers")
            await self._follow(reachable=reachable)

    async def _follow(self, *, reachable: bool) -> None:
        metrics.database_up.set(1 if reachable else 0)
        for service in self._services:
            await self._servicer.set(service, SERVING if reachable else NOT_SERVING)
