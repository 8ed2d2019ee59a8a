"""Server configuration: refusing unsafe or impossible settings before anything starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.limits import Limits
from scheduler.domain.liveness import MAX_BACKSTOP, heartbeat_backstop, record_age
from scheduler.server.config import ConfigError, ServerConfig, ServerRole, is_loopback


def refusal(config: ServerConfig) -> str:
    with pytest.raises(ConfigError) as info:
        config.validate()
    return str(info.value)


def test_defaults_are_valid_and_local() -> None:
    config = ServerConfig()
    config.validate()
    assert config.listen == "127.0.0.1:50051"
    assert config.roles == frozenset({ServerRole.API, ServerRole.DISPATCHER, ServerRole.TICKER})
    assert config.auth_file is None
    assert config.insecure is False


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "[0:0:0:0:0:0:0:1]"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "[::]",
        "10.0.0.1",
        "192.168.1.1",
        "example.com",
        "localhost.example.com",
        "",
        "128.0.0.1",
        "::2",
        "*",
    ],
)
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:0", "localhost:50051", "[::1]:50051", "127.0.0.1:65535"]
)
def test_loopback_listen_needs_no_auth(listen: str) -> None:
    ServerConfig(listen=listen).validate()


PUBLIC = ["0.0.0.0:50051", "[::]:50051", "10.1.2.3:443", "example.com:1"]


def tls(
    listen: str = "127.0.0.1:50051",
    *,
    auth_file: Path | None = None,
    client_ca: Path | None = None,
    agent_listen: str | None = None,
    roles: frozenset[ServerRole] = frozenset(ServerRole),
) -> ServerConfig:
    """A configuration serving TLS from tls.crt and tls.key."""
    return ServerConfig(
        listen=listen,
        auth_file=auth_file,
        tls_cert=Path("tls.crt"),
        tls_key=Path("tls.key"),
        tls_client_ca=client_ca,
        agent_listen=agent_listen,
        roles=roles,
    )


@pytest.mark.parametrize("listen", PUBLIC)
def test_public_listen_needs_auth_and_tls_or_insecure(listen: str) -> None:
    message = refusal(ServerConfig(listen=listen))
    assert "--listen" in message
    assert "--auth-file" in message
    assert "TLS (--tls-cert, --tls-key)" in message
    assert "--insecure" in message
    tls(listen, auth_file=Path("auth.toml")).validate()
    ServerConfig(listen=listen, insecure=True).validate()


@pytest.mark.parametrize("listen", PUBLIC)
def test_public_listen_with_only_one_of_auth_and_tls_names_the_other(listen: str) -> None:
    without_tls = refusal(ServerConfig(listen=listen, auth_file=Path("auth.toml")))
    assert "has no TLS (--tls-cert, --tls-key):" in without_tls
    without_auth = refusal(tls(listen))
    assert "has no --auth-file:" in without_auth


def test_tls_flags_come_in_working_combinations() -> None:
    ca, agents = Path("ca.crt"), "127.0.0.1:50052"
    assert "--tls-key" in refusal(ServerConfig(tls_cert=Path("tls.crt")))
    assert "--tls-cert" in refusal(ServerConfig(tls_key=Path("tls.key")))
    assert "needs --tls-cert" in refusal(ServerConfig(tls_client_ca=ca, agent_listen=agents))
    assert "--agent-listen" in refusal(tls(client_ca=ca))
    tls(agent_listen=agents).validate()  # a TLS port of its own, without client certificates
    tls(client_ca=ca, agent_listen=agents).validate()
    assert "HOST:PORT" in refusal(tls(client_ca=ca, agent_listen="50052"))
    assert "differ" in refusal(tls(client_ca=ca, agent_listen="127.0.0.1:50051"))
    api_only = frozenset({ServerRole.API})
    assert "dispatcher" in refusal(tls(client_ca=ca, agent_listen=agents, roles=api_only))


def test_a_plaintext_agent_port_beyond_loopback_needs_insecure() -> None:
    agents = "0.0.0.0:50052"
    ServerConfig(agent_listen="127.0.0.1:50052").validate()
    message = refusal(ServerConfig(agent_listen=agents))
    assert "--agent-listen 0.0.0.0:50052 is not a loopback address" in message
    assert "--insecure" in message
    ServerConfig(agent_listen=agents, insecure=True).validate()
    # TLS alone is not enough: without tokens or client certificates anyone reaching the
    # port would be an agent of the default account (before, this started).
    assert "no --auth-file or --tls-client-ca" in refusal(tls(agent_listen=agents))
    tls(agent_listen=agents, auth_file=Path("auth.toml")).validate()
    tls(agent_listen=agents, client_ca=Path("ca.crt")).validate()


def test_health_listen_is_a_port_of_its_own() -> None:
    ServerConfig(health_listen="127.0.0.1:8081").validate()
    ServerConfig(listen="127.0.0.1:0", health_listen="127.0.0.1:0").validate()
    assert "--health-listen must be HOST:PORT" in refusal(ServerConfig(health_listen="8081"))
    assert "--health-listen must differ from --listen: both use port 50051" in refusal(
        ServerConfig(health_listen="[::]:50051")
    )
    mutual = tls(client_ca=Path("ca.crt"), agent_listen="127.0.0.1:50052")
    assert "--health-listen must differ from --agent-listen" in refusal(
        dataclasses.replace(mutual, health_listen="127.0.0.1:50052")
    )
    assert "--metrics-listen must differ from --health-listen" in refusal(
        ServerConfig(health_listen="127.0.0.1:8081", metrics_listen="0.0.0.0:8081")
    )


@pytest.mark.parametrize(
    "listen",
    [
        "",
        "50051",
        ":50051",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:port",
        "127.0.0.1:-1",
        "127.0.0.1:5005 1",
        "127.0.0.1:65536",
        "127.0.0.1:99999",
        "127.0.0.1:²",
    ],
)
def test_listen_must_be_host_and_port(listen: str) -> None:
    message = refusal(ServerConfig(listen=listen, insecure=True))
    assert "--listen" in message
    assert "HOST:PORT" in message


def test_roles_cannot_be_empty() -> None:
    message = refusal(ServerConfig(roles=frozenset()))
    assert "--roles" in message
    ServerConfig(roles=frozenset({ServerRole.API})).validate()
    ServerConfig(roles=frozenset({ServerRole.DISPATCHER})).validate()


@pytest.mark.parametrize(
    ("interval", "ok"), [(0, False), (-5, False), (1, True), (60, True), (61, False)]
)
def test_heartbeat_interval_is_at_most_half_the_offline_threshold(interval: int, ok: bool) -> None:
    config = ServerConfig(heartbeat_interval=interval)
    if ok:
        config.validate()
    else:
        message = refusal(config)
        assert "--heartbeat-interval" in message
        assert "120" in message


def test_at_least_one_watch_per_account() -> None:
    ServerConfig(limits=Limits(max_watches=1)).validate()
    assert refusal(ServerConfig(limits=Limits(max_watches=0))) == (
        "--max-watches must be at least 1, got 0"
    )


def test_retention_keeps_at_least_a_day() -> None:
    ServerConfig(limits=Limits(retention_days=1)).validate()
    assert refusal(ServerConfig(limits=Limits(retention_days=0))) == (
        "--retention-days must be at least 1, got 0"
    )


def test_at_least_one_instance_per_account() -> None:
    ServerConfig(limits=Limits(max_instances=1)).validate()
    assert refusal(ServerConfig(limits=Limits(max_instances=0))) == (
        "--max-instances must be at least 1, got 0"
    )


def test_a_selector_matches_at_least_one_instance() -> None:
    ServerConfig(limits=Limits(max_instances_per_selector=1)).validate()
    assert refusal(ServerConfig(limits=Limits(max_instances_per_selector=0))) == (
        "--max-instances-per-selector must be at least 1, got 0"
    )


def test_an_agent_is_lost_only_after_two_heartbeats_missed() -> None:
    ServerConfig(heartbeat_interval=30, limits=Limits(agent_lost_after=60)).validate()
    message = refusal(ServerConfig(heartbeat_interval=30, limits=Limits(agent_lost_after=59)))
    assert message == "--agent-lost-after must be at least two heartbeat intervals (60 s), got 59 s"


def test_heartbeat_bound_follows_the_configured_offline_threshold() -> None:
    limits = Limits(offline_after=30)
    ServerConfig(heartbeat_interval=15, limits=limits).validate()
    assert "30 s" in refusal(ServerConfig(heartbeat_interval=16, limits=limits))


@pytest.mark.parametrize(("timeout", "ok"), [(0, False), (-1, False), (0.5, True), (30, True)])
def test_agent_send_timeout_must_be_positive(timeout: float, ok: bool) -> None:
    config = ServerConfig(agent_send_timeout=timeout)
    if ok:
        config.validate()
    else:
        assert "--agent-send-timeout" in refusal(config)


@given(
    interval=st.integers(min_value=-5, max_value=200),
    lost_after=st.integers(min_value=-5, max_value=100_000),
    offline_after=st.integers(min_value=1, max_value=1000),
)
def test_every_accepted_configuration_has_sane_liveness_intervals(
    interval: int, lost_after: int, offline_after: int
) -> None:
    """Agents' heartbeats (told in Welcome) come at most once per ping interval and fit the
    Welcome's int32; connected agents are recorded alive within the offline threshold and
    within half the lost-after time, more rarely than the server's pings."""
    limits = Limits(agent_lost_after=lost_after, offline_after=offline_after)
    try:
        ServerConfig(heartbeat_interval=interval, limits=limits).validate()
    except ConfigError:
        return
    backstop = heartbeat_backstop(limits)
    assert 1 <= interval <= backstop <= MAX_BACKSTOP
    assert interval <= record_age(limits) <= offline_after / 2
    assert record_age(limits) <= lost_after / 2
