"""A connection speaks for one instance: an instance credential says Hello as its own
managed instance only, an account's agent token as no managed instance."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from kairos.v1 import common_pb2 as S
from kairos.v1 import fleet_pb2
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.managed import activate, register
from tests.service.plays import receive_task, report, results, run_request


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(TWO_ACCOUNTS_AUTH)
    return path


async def refused_hello(peer: Peer) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await peer.hello()
    await peer.close()
    return raised.value


async def test_a_credential_says_hello_as_its_own_instance(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    client = connect(address, "client-a")
    issued = await activate(client, instance_count=1, instance_name="web")
    mine = await register(address, issued)
    peer = Peer(address, mine.instance_id, token=mine.credential)
    await peer.hello(name="web")
    instances = await client.fleet.DescribeInstances(
        fleet_pb2.DescribeInstancesRequest(),
        metadata=client.metadata,
    )
    assert [(i.instance_id, i.online) for i in instances.instances] == [(mine.instance_id, True)]
    await peer.close()
    await client.channel.close()


async def test_a_credential_cannot_say_hello_as_another_instance(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    client = connect(address, "client-a")
    issued = await activate(client, instance_count=2)
    mine, other = [await register(address, issued) for _ in range(2)]
    for victim in (other.instance_id, "i-web-1"):
        error = await refused_hello(Peer(address, victim, token=mine.credential))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error.details() == (
            f"Forbidden.Instance: Hello as {victim} refused: "
            f"this credential speaks for {mine.instance_id} only"
        )
    await client.channel.close()


async def test_an_account_token_speaks_for_no_managed_instance(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    client = connect(address, "client-a")
    registered = await register(address, await activate(client))
    error = await refused_hello(Peer(address, registered.instance_id, token="agent-a"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "an account's agent token speaks for no managed instance" in str(error.details())
    # The account's agent token keeps working for the instances it names itself.
    peer = Peer(address, "i-web-1", token="agent-a")
    await peer.hello()
    await peer.close()
    await client.channel.close()


async def test_an_unknown_credential_is_unauthenticated(kairos: Kairos) -> None:
    # Even on a server without an auth file: a credential is always checked.
    error = await refused_hello(Peer(kairos.address, "mi-1", token="kmi_not-a-credential"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "Unauthenticated: unknown or deregistered instance credential"


async def test_credentials_work_on_a_server_without_auth_file(kairos: Kairos) -> None:
    registered = await register(kairos.address, await activate(kairos))
    peer = Peer(kairos.address, registered.instance_id, token=registered.credential)
    await peer.hello()
    await peer.close()
    error = await refused_hello(Peer(kairos.address, "i-other", token=registered.credential))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_takeover_replayed_with_instance_credentials_fails_for_the_attacker(
    servers: ServerFactory, auth_file: Path
) -> None:
    """Issue 11's takeover: a second stream says Hello as a connected instance to get its
    next task (a script with a password in it) and forge its result. The attacker holds
    its own machine's credential and the account's agent token; both are refused."""
    address = await servers.start(auth_file=auth_file)
    client = connect(address, "client-a")
    issued = await activate(client, instance_count=2)
    victim_id, attacker_id = [await register(address, issued) for _ in range(2)]
    victim = Peer(address, victim_id.instance_id, token=victim_id.credential)
    await victim.hello()
    for token in (attacker_id.credential, "agent-a"):
        error = await refused_hello(Peer(address, victim_id.instance_id, token=token))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    secret = await client.invocations.RunCommand(
        run_request(instance_ids=[victim_id.instance_id], command_content="login --password s3"),
        metadata=client.metadata,
    )
    task = await receive_task(victim)
    assert task.script == b"login --password s3"
    await report(victim, task, S.INVOCATION_STATUS_SUCCESS)
    [result] = (await results(client, secret.invoke_id)).values()
    assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
    await victim.close()
    await client.channel.close()


async def test_a_new_stream_with_the_same_credential_replaces_the_old_and_is_counted(
    kairos: Kairos, caplog: pytest.LogCaptureFixture
) -> None:
    registered = await register(kairos.address, await activate(kairos))
    before = REGISTRY.get_sample_value("kairos_agent_takeovers_total") or 0.0
    first = Peer(kairos.address, registered.instance_id, token=registered.credential)
    await first.hello()
    second = Peer(
        kairos.address, registered.instance_id, token=registered.credential, own_connection=True
    )
    with caplog.at_level(logging.WARNING, logger="dispatcher.service"):
        await second.hello()
    assert await first.ending() == grpc.StatusCode.OK  # a reconnect: the old stream ends
    assert REGISTRY.get_sample_value("kairos_agent_takeovers_total") == before + 1
    [line] = [r.getMessage() for r in caplog.records if "takes over" in r.getMessage()]
    peers = re.findall(r"ipv[46]:\S+", line)
    assert len(set(peers)) == 2, line
    # The new stream is the instance's: it gets the work.
    run = await kairos.invocations.RunCommand(run_request(instance_ids=[registered.instance_id]))
    task = await receive_task(second)
    assert task.invoke_id == run.invoke_id
    await first.close()
    await second.close()
