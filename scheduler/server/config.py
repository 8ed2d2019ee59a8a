"""Server configuration, validated before anything starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from scheduler.domain.limits import Limits


class ServerRole(StrEnum):
    """What a server process does; ``kairos server`` runs all of them by default."""

    API = "api"
    """The client API: commands, invocations, files, fleet."""
    DISPATCHER = "dispatcher"
    """The agent API: agent streams, delivery, results, delivery timeouts, boot triggers."""
    TICKER = "ticker"
    """Turns due schedules into executions."""


class ConfigError(ValueError):
    """A configuration that cannot work; the message says which flag and why."""


@dataclass(kw_only=True, frozen=True)
class ServerConfig:
    """Everything ``kairos server`` needs to run."""

    listen: str = "127.0.0.1:50051"
    database_url: str | None = None
    data_dir: Path = Path(".kairos/server")
    auth_file: Path | None = None
    insecure: bool = False
    roles: frozenset[ServerRole] = frozenset(ServerRole)
    limits: Limits = field(default_factory=Limits)
    heartbeat_interval: int = 30
    """Seconds between the HTTP/2 keepalive pings this server sends each agent connection:
    a dead machine or network ends its stream within this and ``liveness.PING_TIMEOUT``."""
    agent_send_timeout: float = 30.0
    """Seconds an agent's outbox may stay full, nothing taken, before its stream is closed."""
    grace: float = 10.0
    metrics_listen: str | None = None
    """HOST:PORT of the Prometheus endpoint; None serves no metrics."""

    def validate(self) -> None:
        """Refuse unsafe or impossible settings with a message naming the flag."""
        host, _, port = self.listen.rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and int(port) <= 65_535):
            raise ConfigError(f"--listen must be HOST:PORT, got {self.listen!r}")
        if self.auth_file is None and not self.insecure and not is_loopback(host):
            raise ConfigError(
                f"--listen {self.listen} is not a loopback address and there is no --auth-file: "
                "give an --auth-file, or --insecure to serve every caller as the default account"
            )
        if self.metrics_listen is not None:
            metrics_host, _, metrics_port = self.metrics_listen.rpartition(":")
            if not metrics_host or not metrics_port.isdigit():
                raise ConfigError(
                    f"--metrics-listen must be HOST:PORT, got {self.metrics_listen!r}"
                )
        if not self.roles:
            raise ConfigError("--roles needs at least one of: api, dispatcher, ticker")
        if not self.agent_send_timeout > 0:
            raise ConfigError(
                f"--agent-send-timeout must be more than 0 s, got {self.agent_send_timeout:g}"
            )
        if self.heartbeat_interval < 1 or self.heartbeat_interval * 2 > self.limits.offline_after:
            raise ConfigError(
                "--heartbeat-interval must be at least 1 s and at most half of the "
                f"{self.limits.offline_after} s after which an agent counts as offline"
            )
        if self.limits.max_instances < 1:
            raise ConfigError(
                f"--max-instances must be at least 1, got {self.limits.max_instances}"
            )
        if self.limits.max_watches < 1:
            raise ConfigError(f"--max-watches must be at least 1, got {self.limits.max_watches}")
        if self.limits.live_output_rate < 1:
            raise ConfigError(
                "--live-output-rate must be at least 1 byte a second, "
                f"got {self.limits.live_output_rate}"
            )
        # Agents' heartbeats (every half of it, domain/liveness.py) are then never more
        # frequent than the pings, and a silent stream is closed after two went missing.
        if self.heartbeat_interval * 2 > self.limits.agent_lost_after:
            raise ConfigError(
                "--agent-lost-after must be at least two heartbeat intervals "
                f"({2 * self.heartbeat_interval} s), got {self.limits.agent_lost_after} s"
            )


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
