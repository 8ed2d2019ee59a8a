"""Managed instances with real processes: `kairos agent --activation-id --activation-code`
registers once, keeps its credential (0600) and connects with it from then on."""

from __future__ import annotations

import asyncio
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from agent.registration import REGISTRATION_FILE, pending_registration
from kairos.v1 import activation_pb2, agent_pb2, agent_pb2_grpc, common_pb2, invocation_pb2
from scheduler.local import Tls, until_online
from tests.e2e.cluster import (
    START_TIMEOUT,
    credential_in,
    finished,
    output_seen,
    results,
    running_cluster,
)
from tests.tls_certs import Authority

pytestmark = pytest.mark.e2e

S = common_pb2


async def test_an_agent_registers_once_and_connects_with_its_credential(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(tmp_path, database_url, server_flags=[], agents={}) as cluster:
        kairos = cluster.client()
        created = await kairos.activations.CreateActivation(
            activation_pb2.CreateActivationRequest(instance_count=1, instance_name="web")
        )
        activation = [
            "--activation-id", created.activation_id,
            "--activation-code", created.activation_code,
        ]  # fmt: skip
        state_dir = tmp_path / "managed-1"
        agent = cluster.start_managed_agent(state_dir, *activation)
        kept = await credential_in(state_dir)
        instance_id = kept["instance_id"]
        assert instance_id.startswith("mi-")
        assert stat.S_IMODE((state_dir / "credential.json").stat().st_mode) == 0o600
        await cluster.supervisor.supervise(
            until_online(cluster.address, [instance_id], START_TIMEOUT)
        )
        response = await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="echo hello from $HOSTNAME",
                instance_ids=[instance_id],
            )
        )
        assert (await finished(kairos, response.invoke_id))["status"] == (
            S.INVOCATION_STATUS_SUCCESS
        )

        # Restarted without the activation: the kept credential is enough. With it again,
        # the flags are ignored: no second registration (the activation has one only).
        for flags in ([], activation):
            agent.terminate()
            since = datetime.now(UTC)
            agent = cluster.start_managed_agent(state_dir, *flags)
            await cluster.supervisor.supervise(
                until_online(cluster.address, [instance_id], START_TIMEOUT, since=since)
            )
        listed = await kairos.activations.DescribeActivations(
            activation_pb2.DescribeActivationsRequest(activation_id=created.activation_id)
        )
        assert listed.activations[0].registered_count == 1
        logs = "\n".join(agent.tail(200))
        assert "are not needed any more and are ignored" in logs
        for secret in (kept["credential"], created.activation_code):
            assert secret not in logs
        [result] = (await results(kairos, response.invoke_id)).values()
        assert result.output.startswith(b"hello from")


async def test_an_agent_restarted_after_its_registration_response_was_lost_is_that_instance(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(tmp_path, database_url, server_flags=[], agents={}) as cluster:
        kairos = cluster.client()
        created = await kairos.activations.CreateActivation(
            activation_pb2.CreateActivationRequest(instance_count=1, instance_name="web")
        )
        state_dir = tmp_path / "managed-1"
        # The run before: it kept its registration id and the server registered it, but
        # the agent never got the response (the connection reset, or it was killed).
        registration_id = pending_registration(state_dir, created.activation_id)
        async with grpc.aio.insecure_channel(cluster.address) as channel:
            lost = await agent_pb2_grpc.AgentServiceStub(channel).Register(
                agent_pb2.RegisterRequest(
                    activation_id=created.activation_id,
                    activation_code=created.activation_code,
                    hostname="host-1",
                    registration_id=registration_id,
                )
            )
        # Restarted: the same registration again, so the same instance, though the
        # activation's one count is taken.
        cluster.start_managed_agent(
            state_dir,
            "--activation-id", created.activation_id,
            "--activation-code", created.activation_code,
        )  # fmt: skip
        kept = await credential_in(state_dir)
        assert kept["instance_id"] == lost.instance_id
        assert kept["credential"] != lost.credential
        await cluster.supervisor.supervise(
            until_online(cluster.address, [lost.instance_id], START_TIMEOUT)
        )
        assert not (state_dir / REGISTRATION_FILE).exists()
        listed = await kairos.activations.DescribeActivations(
            activation_pb2.DescribeActivationsRequest(activation_id=created.activation_id)
        )
        assert listed.activations[0].registered_count == 1


async def test_a_deregistered_agent_is_refused_and_its_running_execution_ends(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(tmp_path, database_url, server_flags=[], agents={}) as cluster:
        kairos = cluster.client()
        created = await kairos.activations.CreateActivation(
            activation_pb2.CreateActivationRequest(instance_count=1)
        )
        state_dir = tmp_path / "managed-2"
        agent = cluster.start_managed_agent(
            state_dir,
            "--activation-id", created.activation_id,
            "--activation-code", created.activation_code,
        )  # fmt: skip
        instance_id = (await credential_in(state_dir))["instance_id"]
        await cluster.supervisor.supervise(
            until_online(cluster.address, [instance_id], START_TIMEOUT)
        )
        response = await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="echo started; sleep 60",
                instance_ids=[instance_id],
            )
        )
        await output_seen(kairos, response.invoke_id, b"started")
        await kairos.activations.DeregisterManagedInstance(
            activation_pb2.DeregisterManagedInstanceRequest(instance_id=instance_id)
        )
        end = await finished(kairos, response.invoke_id)
        assert end["status"] == S.INVOCATION_STATUS_FAILED
        [result] = (await results(kairos, response.invoke_id)).values()
        assert (result.invocation_status, result.error_code) == (
            S.INVOCATION_STATUS_ERROR,
            "InstanceDeregistered",
        )
        assert result.output == b"started\n"
        # Its stream is closed, and each reconnect is refused: the agent says so.
        deadline = time.monotonic() + START_TIMEOUT
        while not any(
            "unknown or deregistered instance credential" in line for line in agent.tail(50)
        ):
            assert time.monotonic() < deadline, "the agent's reconnect was never refused"
            await asyncio.sleep(0.1)


async def test_an_agent_registers_and_connects_over_tls(database_url: str, tmp_path: Path) -> None:
    ca = Authority()
    cert, key = ca.server().write(tmp_path / "pki", "server")
    ca_file = ca.write(tmp_path / "pki" / "ca.crt")
    tls = Tls(grpc.ssl_channel_credentials(ca.pem))
    flags = ["--tls-cert", str(cert), "--tls-key", str(key)]
    async with running_cluster(
        tmp_path, database_url, server_flags=flags, agents={}, tls=tls
    ) as cluster:
        kairos = cluster.client()
        created = await kairos.activations.CreateActivation(
            activation_pb2.CreateActivationRequest(instance_count=1)
        )
        state_dir = tmp_path / "managed-tls"
        cluster.start_managed_agent(
            state_dir,
            "--ca-file", str(ca_file),
            "--activation-id", created.activation_id,
            "--activation-code", created.activation_code,
        )  # fmt: skip
        instance_id = (await credential_in(state_dir))["instance_id"]
        await cluster.supervisor.supervise(
            until_online(cluster.address, [instance_id], START_TIMEOUT, tls=tls)
        )
