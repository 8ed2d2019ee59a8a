"""A connection speaks for one instance: an instance credential says Hello as its own
managed instance only, an account's agent token as no managed instance."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from kairos.v1 import fleet_pb2
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.managed import activate, register


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
