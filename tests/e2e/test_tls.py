"""TLS end to end: real server, agent and CLI processes, certificates made by the test.

The server serves TLS on --listen and, with --tls-client-ca, agents on --agent-listen with
mutual TLS; it picks up certificates rotated on disk however they are replaced.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import (
    agent_pb2_grpc,
    common_pb2,
    fleet_pb2,
    fleet_pb2_grpc,
    invocation_pb2,
)
from scheduler.local import Process, Tls, connect, free_port, kairos_command, until_online
from tests.e2e.cluster import Cluster, finished, results, running_cluster
from tests.tls_certs import UNSERVED_KEYS, Authority, Issued, presented_serial

pytestmark = pytest.mark.e2e

CLI_SECONDS = 60.0
LOG_SECONDS = 30.0


@dataclass
class Pki:
    """A CA and the server certificate it issued, on disk where the server reads them."""

    root: Path
    ca: Authority
    ca_file: Path
    cert: Path
    key: Path

    def tls(self, server_name: str | None = None) -> Tls:
        return Tls(grpc.ssl_channel_credentials(self.ca.pem), server_name)

    def server_flags(self, *extra: str) -> list[str]:
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key), *extra]


def make_pki(root: Path, *server_names: str) -> Pki:
    ca = Authority()
    cert, key = ca.server(*server_names).write(root / "server", "server")
    return Pki(root=root, ca=ca, ca_file=ca.write(root / "ca.crt"), cert=cert, key=key)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest_asyncio.fixture
async def tls_cluster(database_url: str, tmp_path: Path, pki: Pki) -> AsyncIterator[Cluster]:
    """A server serving TLS on --listen, no agents yet."""
    async with running_cluster(
        tmp_path, database_url, server_flags=pki.server_flags(), agents={}, tls=pki.tls()
    ) as cluster:
        yield cluster


def kairos_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the operator CLI as an operator does, without KAIROS_* from the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    return subprocess.run(
        kairos_command(arguments),
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        env=env,
        check=False,
    )


async def refusal(call: Awaitable[object]) -> grpc.StatusCode:
    """The status a call that must fail ends with."""
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    return failed.value.code()


def describe_agents() -> fleet_pb2.DescribeAgentStatusRequest:
    return fleet_pb2.DescribeAgentStatusRequest()


async def until_logged(process: Process, text: str) -> None:
    """Wait until ``text`` appears in a process's log."""
    deadline = time.monotonic() + LOG_SECONDS
    while text not in process.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} never logged by {process.name}"
        await asyncio.sleep(0.1)


async def run_echo(cluster: Cluster, instance_id: str) -> None:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo over tls",
            instance_ids=[instance_id],
        )
    )
    end = await finished(kairos, response.invoke_id)
    assert end["status"] == common_pb2.INVOCATION_STATUS_SUCCESS
    result = (await results(kairos, response.invoke_id))[instance_id]
    assert result.output == b"over tls\n"


async def test_a_tls_port_serves_only_clients_that_trust_its_ca(
    tls_cluster: Cluster, pki: Pki, tmp_path: Path
) -> None:
    # The cluster's own readiness check and this agent went through TLS with the CA.
    await tls_cluster.start_agent("i-tls", "--ca-file", str(pki.ca_file))
    await run_echo(tls_cluster, "i-tls")

    plaintext = connect(tls_cluster.address)
    assert await refusal(plaintext.fleet.DescribeAgentStatus(describe_agents())) == (
        grpc.StatusCode.UNAVAILABLE
    )
    stranger = make_pki(tmp_path / "stranger")
    other_ca = connect(tls_cluster.address, tls=stranger.tls())
    assert await refusal(other_ca.fleet.DescribeAgentStatus(describe_agents())) == (
        grpc.StatusCode.UNAVAILABLE
    )

    server = ["--server", tls_cluster.address, "--json"]
    trusted = kairos_cli("instances", *server, "--ca-file", str(pki.ca_file))
    assert trusted.returncode == 0, trusted.stderr
    assert "i-tls" in trusted.stdout
    for refused in (
        kairos_cli("instances", *server),
        kairos_cli("instances", *server, "--ca-file", str(stranger.ca_file)),
    ):
        assert refused.returncode == 1, refused.stdout
        assert "UNAVAILABLE" in refused.stderr


async def test_tls_server_name_accepts_a_certificate_for_another_name(
    database_url: str, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki", "kairos.internal")
    async with running_cluster(
        tmp_path,
        database_url,
        server_flags=pki.server_flags(),
        agents={},
        tls=pki.tls("kairos.internal"),
    ) as cluster:
        address = cluster.address  # 127.0.0.1: not a name in the certificate
        wrong_name = connect(address, tls=pki.tls())
        assert await refusal(wrong_name.fleet.DescribeAgentStatus(describe_agents())) == (
            grpc.StatusCode.UNAVAILABLE
        )
        trust = ["--ca-file", str(pki.ca_file)]
        assert kairos_cli("instances", "--server", address, *trust).returncode == 1
        named = kairos_cli(
            "instances", "--server", address, *trust, "--tls-server-name", "kairos.internal"
        )
        assert named.returncode == 0, named.stderr
        await cluster.start_agent("i-named", *trust, "--tls-server-name", "kairos.internal")


async def test_with_a_client_ca_only_agents_with_a_good_certificate_connect(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    agent_address = f"127.0.0.1:{free_port()}"
    client_ca = pki.ca.write(tmp_path / "client-ca.crt")  # one CA for both, as many do
    flags = pki.server_flags("--tls-client-ca", str(client_ca), "--agent-listen", agent_address)
    agent_cert, agent_key = pki.ca.client("i-good").write(tmp_path / "agent", "agent")
    stranger = make_pki(tmp_path / "stranger")
    forged_cert, forged_key = stranger.ca.client("i-forged").write(tmp_path / "forged", "agent")
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=pki.tls()
    ) as cluster:
        trust = ["--ca-file", str(pki.ca_file)]
        good = ["--tls-cert", str(agent_cert), "--tls-key", str(agent_key)]
        await cluster.start_agent("i-good", *trust, *good, via=agent_address)
        await run_echo(cluster, "i-good")

        # On --listen, where gRPC asks no client for a certificate, agents are refused.
        on_listen = cluster.supervisor.start_agent(
            "i-plain", cluster.address, tmp_path / "agents" / "i-plain", flags=[*trust, *good]
        )
        await until_logged(on_listen, "UNAUTHENTICATED")
        await until_logged(on_listen, "Unauthenticated.AgentPort")
        # On --agent-listen, a handshake without a certificate, or with one the client CA
        # did not sign, fails.
        forged = ["--tls-cert", str(forged_cert), "--tls-key", str(forged_key)]
        for name, agent_flags in (("i-nocert", trust), ("i-forged", [*trust, *forged])):
            agent = cluster.supervisor.start_agent(
                name, agent_address, tmp_path / "agents" / name, flags=agent_flags
            )
            await until_logged(agent, "UNAVAILABLE")
        # The operators' port still serves clients without a certificate.
        listing = await cluster.client().fleet.DescribeAgentStatus(describe_agents())
        online = {agent.instance_id for agent in listing.instances if agent.online}
        assert online == {"i-good"}


async def test_agent_calls_on_the_client_port_are_refused_with_why(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    client_ca = pki.ca.write(tmp_path / "client-ca.crt")
    flags = pki.server_flags(
        "--tls-client-ca", str(client_ca), "--agent-listen", f"127.0.0.1:{free_port()}"
    )
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=pki.tls()
    ) as cluster:
        async with grpc.aio.secure_channel(cluster.address, pki.tls().credentials) as channel:
            refused = await agent_stream_refusal(channel)
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "client certificate" in str(refused.details())
        assert "--agent-listen" in str(refused.details())


async def agent_stream_refusal(channel: grpc.aio.Channel) -> grpc.aio.AioRpcError:
    """How an agent stream opened on ``channel`` is refused.

    The port refuses the call as it enters, before any message: the stream sends none,
    since a Hello still being sent when the refusal arrives makes gRPC end the call
    INTERNAL on this side instead of with the server's status.
    """
    call = agent_pb2_grpc.AgentServiceStub(channel).Connect()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call.read()
    return refused.value


async def test_agents_on_a_port_of_their_own_are_refused_on_the_client_port(
    database_url: str, tmp_path: Path
) -> None:
    """Without TLS or client certificates: the client port does not open the agent API,
    and the agent port serves no client API."""
    agent_address = f"127.0.0.1:{free_port()}"
    async with running_cluster(
        tmp_path, database_url, server_flags=["--agent-listen", agent_address], agents={}
    ) as cluster:
        await cluster.start_agent("i-own-port", via=agent_address)
        await run_echo(cluster, "i-own-port")

        async with grpc.aio.insecure_channel(cluster.address) as channel:
            refused = await agent_stream_refusal(channel)
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "--agent-listen" in str(refused.details())
        on_listen = cluster.supervisor.start_agent(
            "i-client-port", cluster.address, tmp_path / "agents" / "i-client-port", flags=[]
        )
        await until_logged(on_listen, "Unauthenticated.AgentPort")

        agent_port = connect(agent_address)
        assert await refusal(agent_port.fleet.DescribeAgentStatus(describe_agents())) == (
            grpc.StatusCode.UNIMPLEMENTED
        )
        listing = await cluster.client().fleet.DescribeAgentStatus(describe_agents())
        assert {agent.instance_id for agent in listing.instances if agent.online} == {"i-own-port"}


async def test_an_agent_reconnects_with_the_files_rotated_on_its_disk(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    client_ca = pki.ca.write(tmp_path / "client-ca.crt")
    agent_address = f"127.0.0.1:{free_port()}"
    flags = pki.server_flags("--tls-client-ca", str(client_ca), "--agent-listen", agent_address)
    agent_ca = pki.ca.write(tmp_path / "agent" / "ca.crt")
    agent_cert, agent_key = pki.ca.client("i-rot").write(tmp_path / "agent", "agent")
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=pki.tls()
    ) as cluster:
        tls = [
            "--ca-file",
            str(agent_ca),
            "--tls-cert",
            str(agent_cert),
            "--tls-key",
            str(agent_key),
        ]
        agent = await cluster.start_agent("i-rot", *tls, via=agent_address)
        # Everything moves to a new CA: what the server shows and trusts, and what the
        # agent trusts and shows. Only an agent that reads its files again gets back in.
        successor = Authority("Kairos test CA 2")
        rename_over(agent_ca, successor.pem)
        issued = successor.client("i-rot")
        rename_over(agent_key, issued.key)
        rename_over(agent_cert, issued.cert)
        server_pair = successor.server()
        rename_over(pki.key, server_pair.key)
        rename_over(pki.cert, server_pair.cert)
        rename_over(client_ca, successor.pem)
        assert cluster.server is not None
        cluster.server.terminate()  # the agent's stream ends; it reconnects to the new one
        cluster.tls = Tls(grpc.ssl_channel_credentials(successor.pem))
        since = datetime.now(UTC)
        await cluster.start_server()
        await cluster.supervisor.supervise(
            until_online(cluster.address, ["i-rot"], 60.0, since=since, tls=cluster.tls)
        )
        assert agent.alive()  # the same process: no restart picked the files up
        await run_echo(cluster, "i-rot")


async def test_probes_check_health_in_plaintext_while_the_api_serves_tls(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    health_address = f"127.0.0.1:{free_port()}"
    flags = pki.server_flags("--health-listen", health_address)
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=pki.tls()
    ) as cluster:
        # As the kubelet's native gRPC probes do: plaintext, the overall status and liveness.
        async with grpc.aio.insecure_channel(health_address) as probe:
            health: Any = health_pb2_grpc.HealthStub(probe)  # the stubs type no methods
            for service in ("", "liveness"):
                check = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert check.status == health_pb2.HealthCheckResponse.SERVING, service
            # Nothing but health answers there, not even to a token-free plaintext caller.
            fleet = fleet_pb2_grpc.FleetServiceStub(probe)
            assert await refusal(fleet.DescribeAgentStatus(describe_agents())) == (
                grpc.StatusCode.UNIMPLEMENTED
            )
        # The main port still serves only TLS.
        plaintext = connect(cluster.address)
        assert await refusal(plaintext.fleet.DescribeAgentStatus(describe_agents())) == (
            grpc.StatusCode.UNAVAILABLE
        )


def replace_in_place(path: Path, data: bytes) -> None:
    with path.open("r+b") as file:  # the same inode, truncated and rewritten
        file.truncate(0)
        file.write(data)


def rename_over(path: Path, data: bytes) -> None:
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(data)
    fresh.replace(path)


@dataclass
class SecretVolume:
    """Files as a Kubernetes Secret volume holds them: ``NAME -> ..data/NAME``, and
    ``..data -> ..VERSION``, swapped atomically to a new version directory."""

    root: Path
    version: int = 0

    def publish(self, files: dict[str, bytes]) -> None:
        self.version += 1
        directory = self.root / f"..v{self.version}"
        directory.mkdir(parents=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)
            if not (self.root / name).is_symlink():
                (self.root / name).symlink_to(Path("..data") / name)
        swap = self.root / "..data_tmp"
        swap.symlink_to(directory.name)
        swap.replace(self.root / "..data")


ROTATIONS = ["in-place", "rename-over", "symlink-swap"]


@pytest.mark.parametrize("rotation", ROTATIONS)
async def test_rotated_certificates_are_served_without_a_restart(
    database_url: str, tmp_path: Path, rotation: str
) -> None:
    ca = Authority()
    first, second, third = ca.server(), ca.server(), ca.server()
    volume = SecretVolume(tmp_path / "secret")
    volume.publish({"tls.crt": first.cert, "tls.key": first.key})
    cert, key = volume.root / "tls.crt", volume.root / "tls.key"
    ca_file = ca.write(tmp_path / "ca.crt")

    def rotate(pair: Issued) -> None:
        if rotation == "symlink-swap":
            volume.publish({"tls.crt": pair.cert, "tls.key": pair.key})
        else:
            write = replace_in_place if rotation == "in-place" else rename_over
            write(key, pair.key)
            write(cert, pair.cert)

    flags = ["--tls-cert", str(cert), "--tls-key", str(key)]
    tls = Tls(grpc.ssl_channel_credentials(ca.pem))
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=tls
    ) as cluster:
        assert presented_serial(cluster.address, ca_file) == first.serial
        rotate(second)
        # Each new connection is a new handshake: the first after the change sees it.
        assert presented_serial(cluster.address, ca_file) == second.serial
        await cluster.client().fleet.DescribeAgentStatus(describe_agents())  # gRPC too
        rotate(third)
        assert presented_serial(cluster.address, ca_file) == third.serial


async def test_an_unusable_replacement_keeps_the_last_good_pair_serving(
    tls_cluster: Cluster, pki: Pki
) -> None:
    served = presented_serial(tls_cluster.address, pki.ca_file)
    fresh = pki.ca.server()
    # Half-way through a rotation: the new certificate is there, its key is not yet.
    rename_over(pki.cert, fresh.cert)
    for _ in range(3):
        assert presented_serial(tls_cluster.address, pki.ca_file) == served
    await tls_cluster.client().fleet.DescribeAgentStatus(describe_agents())
    assert tls_cluster.server is not None
    log = tls_cluster.server.log.read_text()
    assert log.count("cannot be used") == 1, log  # one warning for this version of the files
    assert "does not match the certificate" in log
    # A file cut short is no better.
    rename_over(pki.key, fresh.key[: len(fresh.key) // 2])
    assert presented_serial(tls_cluster.address, pki.ca_file) == served
    rename_over(pki.key, fresh.key)  # the rotation completes
    assert presented_serial(tls_cluster.address, pki.ca_file) == fresh.serial


async def test_a_replacement_of_a_kind_that_cannot_be_served_keeps_the_last_good_pair(
    database_url: str, tmp_path: Path
) -> None:
    ca = Authority()
    good = ca.server()
    unusable = {kind: ca.server(key=make()) for kind, make in UNSERVED_KEYS.items()}
    unusable["EC secp112r1"] = ca.server_on_unsupported_curve()
    volume = SecretVolume(tmp_path / "secret")  # both files swapped at once: one version each
    volume.publish({"tls.crt": good.cert, "tls.key": good.key})
    ca_file = ca.write(tmp_path / "ca.crt")
    flags = ["--tls-cert", str(volume.root / "tls.crt"), "--tls-key", str(volume.root / "tls.key")]
    tls = Tls(grpc.ssl_channel_credentials(ca.pem))
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=tls
    ) as cluster:
        assert cluster.server is not None
        for kind, pair in unusable.items():
            volume.publish({"tls.crt": pair.cert, "tls.key": pair.key})
            for _ in range(3):
                assert presented_serial(cluster.address, ca_file) == good.serial, kind
            await cluster.client().fleet.DescribeAgentStatus(describe_agents())  # gRPC too
        log = cluster.server.log.read_text()
        # One warning for each version of the files, and nothing else said about them.
        assert log.count("TLS files changed but cannot be used") == len(unusable), log
        assert "reloaded" not in log
        assert "Traceback" not in log
        # The kinds served other than P-256, each as the gRPC client sees it.
        for key in (
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ec.generate_private_key(ec.SECP384R1()),
        ):
            served = ca.server(key=key)
            volume.publish({"tls.crt": served.cert, "tls.key": served.key})
            assert presented_serial(cluster.address, ca_file) == served.serial
            await cluster.client().fleet.DescribeAgentStatus(describe_agents())


def start_server(*flags: str) -> subprocess.CompletedProcess[str]:
    """``kairos server`` with flags that must stop it before it needs a database."""
    return kairos_cli("server", "--database-url", "postgresql://nobody@127.0.0.1:1/none", *flags)


def test_a_non_loopback_listen_without_tls_refuses_to_start(pki: Pki, tmp_path: Path) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text('[[tokens]]\ntoken = "t"\naccount = "a"\nregion = "r"\nrole = "client"\n')
    listen = ["--listen", f"0.0.0.0:{free_port()}", "--auth-file", str(auth)]
    refused = start_server(*listen)
    assert refused.returncode == 2, refused.stderr
    assert "not a loopback address" in refused.stderr
    assert "TLS (--tls-cert, --tls-key)" in refused.stderr
    assert "--insecure" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-cert", "{cert}"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "{missing}", "--tls-key", "{key}"], "--tls-cert {missing}: cannot read"),
        (["--tls-cert", "{cert}", "--tls-key", "{other_key}"], "does not match the certificate"),
        (["--tls-cert", "{key}", "--tls-key", "{key}"], "no PEM certificate"),
        (["--tls-cert", "{cert}", "--tls-key", "{cert}"], "not an unencrypted PEM private key"),
        # cryptography cannot load a key on secp112r1 (UnsupportedAlgorithm).
        (["--tls-cert", "{curve_cert}", "--tls-key", "{curve_key}"], "--tls-key {curve_key}: a"),
        (["--tls-cert", "{curve_cert}", "--tls-key", "{key}"], "--tls-cert {curve_cert}: the"),
        (
            ["--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-client-ca", "{missing}"],
            "--tls-client-ca needs --agent-listen",
        ),
        (
            [
                *("--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-client-ca", "{key}"),
                *("--agent-listen", "127.0.0.1:1"),
            ],
            "--tls-client-ca {key}: no PEM certificate",
        ),
    ],
)
def test_unusable_tls_files_stop_the_start_naming_the_flag(
    pki: Pki, tmp_path: Path, flags: list[str], message: str
) -> None:
    other_key = pki.ca.server().write(tmp_path / "other", "other")[1]
    curve_cert, curve_key = pki.ca.server_on_unsupported_curve().write(tmp_path / "curve", "curve")
    paths = {
        "cert": str(pki.cert),
        "key": str(pki.key),
        "other_key": str(other_key),
        "curve_cert": str(curve_cert),
        "curve_key": str(curve_key),
        "missing": str(tmp_path / "missing.pem"),
    }
    refused = start_server(*(flag.format(**paths) for flag in flags))
    assert refused.returncode == 2, refused.stderr
    assert message.format(**paths) in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "PRIVATE KEY" not in refused.stderr + refused.stdout


@pytest.mark.parametrize("kind", UNSERVED_KEYS)
def test_a_kind_of_key_grpc_cannot_serve_stops_the_start_naming_the_flag(
    tmp_path: Path, kind: str
) -> None:
    cert, key = Authority().server(key=UNSERVED_KEYS[kind]()).write(tmp_path, "server")
    refused = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"error: --tls-key {key}: "), line
    assert "the server takes an RSA key" in line
    assert "PRIVATE KEY" not in refused.stderr + refused.stdout


def test_the_agent_and_cli_refuse_tls_flags_without_a_ca_file(tmp_path: Path) -> None:
    cert = str(tmp_path / "agent.crt")
    agent = kairos_cli("agent", "--instance-id", "i-1", "--tls-cert", cert, "--tls-key", cert)
    assert agent.returncode == 2
    assert "need --ca-file" in agent.stderr
    missing = kairos_cli("instances", "--ca-file", str(tmp_path / "nope.crt"))
    assert missing.returncode == 2
    assert "--ca-file" in missing.stderr and "cannot read" in missing.stderr
