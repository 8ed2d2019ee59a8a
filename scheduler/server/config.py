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
    """Serve a non-loopback ``listen`` without an auth file and without TLS."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    """CA whose client certificates agents must show, on ``agent_listen`` (mutual TLS)."""
    agent_listen: str | None = None
    """HOST:PORT of a second port, the only one serving agents (with a client certificate
    when ``tls_client_ca`` is given); None: agents use ``listen``."""
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
    health_listen: str | None = None
    """HOST:PORT of a plaintext port serving only grpc.health.v1, for probes that cannot
    speak TLS (the kubelet's); None: health is served on ``listen`` only."""

    def validate(self) -> None:
        """Refuse unsafe or impossible settings with a message naming the flag."""
        host, _, port = self.listen.rpartition(":")
        if not host or not _is_port(port):
            raise ConfigError(f"--listen must be HOST:PORT, got {self.listen!r}")
        self._validate_tls()
        self._validate_ports()
        agent_host = (self.agent_listen or "").rpartition(":")[0]
        if self.agent_listen and not (self.insecure or is_loopback(agent_host)):
            # As --listen: a public port needs TLS and a way to tell agents apart
            # (tokens of an auth file, or client certificates); without either every
            # caller is an agent of the default account, handed its instances' scripts.
            missing = [
                flags
                for flags, given in (
                    ("TLS (--tls-cert, --tls-key)", self.tls_cert is not None),
                    (
                        "--auth-file or --tls-client-ca",
                        self.auth_file is not None or self.tls_client_ca is not None,
                    ),
                )
                if not given
            ]
            if missing:
                raise ConfigError(
                    f"--agent-listen {self.agent_listen} is not a loopback address but has "
                    f"no {' and no '.join(missing)}: give what is missing, or --insecure when "
                    "something else guards the port, such as a service mesh's mutual TLS"
                )
        if not self.insecure and not is_loopback(host):
            missing = [
                flags
                for flags, given in (
                    ("--auth-file", self.auth_file is not None),
                    ("TLS (--tls-cert, --tls-key)", self.tls_cert is not None),
                )
                if not given
            ]
            if missing:
                raise ConfigError(
                    f"--listen {self.listen} is not a loopback address but has no "
                    f"{' and no '.join(missing)}: give what is missing, or --insecure when "
                    "something else guards the port, such as a service mesh's mutual TLS "
                    "(without an auth file every caller is the default account)"
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
        if self.limits.max_instances_per_selector < 1:
            raise ConfigError(
                "--max-instances-per-selector must be at least 1, "
                f"got {self.limits.max_instances_per_selector}"
            )
        if self.limits.retention_days < 1:
            raise ConfigError(
                f"--retention-days must be at least 1, got {self.limits.retention_days}"
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

    def _validate_tls(self) -> None:
        """The TLS flags come in the combinations that can work; the files are read later."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        # gRPC Python asks a client for a certificate only on a port that requires one, and
        # operators have none: agents show theirs on a port of their own.
        if self.tls_client_ca is not None and self.agent_listen is None:
            raise ConfigError(
                "--tls-client-ca needs --agent-listen: agents show their client "
                "certificate on the --agent-listen port, operators use --listen without one"
            )
        if self.agent_listen is not None and ServerRole.DISPATCHER not in self.roles:
            raise ConfigError(
                "--agent-listen serves the agent API: --roles must include dispatcher"
            )

    def _validate_ports(self) -> None:
        """Every further port is HOST:PORT, and no two of the server's ports share a number
        (on a wildcard host they would collide; port 0 picks a free one each time)."""
        ports = [("--listen", self.listen)]
        for flag, address in (
            ("--agent-listen", self.agent_listen),
            ("--health-listen", self.health_listen),
            ("--metrics-listen", self.metrics_listen),
        ):
            if address is None:
                continue
            host, _, port = address.rpartition(":")
            if not host or not _is_port(port):
                raise ConfigError(f"{flag} must be HOST:PORT, got {address!r}")
            for other, taken in ports:
                if int(port) != 0 and taken.rpartition(":")[2] == port:
                    raise ConfigError(f"{flag} must differ from {other}: both use port {port}")
            ports.append((flag, address))


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) <= 65_535
