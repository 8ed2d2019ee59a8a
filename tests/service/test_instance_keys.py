"""Instance ids belong to an account and region: two accounts may each have an i-web-1.

Agent sessions, rows, deliveries, reports and stops are keyed by the tenant and
the id; a tenant has at most ``--max-instances`` instances.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from psycopg import sql
from sqlalchemy import insert, select

from kairos.v1 import agent_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.server.config import ServerRole
from scheduler.store.database import create_engine
from scheduler.store.notices import dispatch_channel
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer, until_disconnected
from tests.service.plays import receive_task, report, run_request, start_with_output
from tests.service.refusals import Refusal, decode

SUCCESS = common_pb2.INVOCATION_STATUS_SUCCESS


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(TWO_ACCOUNTS_AUTH)
    return path


async def results(client: Kairos, invoke_id: str) -> list[invocation_pb2.InvocationResult]:
    response = await client.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id),
        metadata=client.metadata,
    )
    return list(response.results)


async def run_on(client: Kairos, instance_id: str, script: str) -> str:
    response = await client.invocations.RunCommand(
        run_request(instance_ids=[instance_id], command_content=script),
        metadata=client.metadata,
    )
    return str(response.invoke_id)


async def test_two_accounts_each_run_commands_on_their_own_i_web_1(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    accounts = {
        "a": (connect(address, "client-a"), Peer(address, "i-web-1", token="agent-a")),
        "b": (connect(address, "client-b"), Peer(address, "i-web-1", token="agent-b")),
    }
    for _, agent in accounts.values():
        await agent.hello()  # the second is not refused: it is account b's own i-web-1

    invoked = {
        name: await run_on(client, "i-web-1", f"echo {name}")
        for name, (client, _) in accounts.items()
    }

    for name, (_, agent) in accounts.items():
        task = await receive_task(agent)
        assert (task.invoke_id, task.script) == (invoked[name], f"echo {name}".encode())
        # report() also checks that the next message is the result's ack: no other task.
        await report(agent, task, SUCCESS, output=f"{name} ran\n".encode())
    for name, (client, _) in accounts.items():
        [result] = await results(client, invoked[name])
        assert (result.instance_id, result.invocation_status) == ("i-web-1", SUCCESS)
        assert result.output == f"{name} ran\n".encode()
        seen = await client.fleet.DescribeAgentStatus(
            fleet_pb2.DescribeAgentStatusRequest(), metadata=client.metadata
        )
        assert [(i.instance_id, i.online) for i in seen.instances] == [("i-web-1", True)]
    for _, agent in accounts.values():
        await agent.close()


async def test_an_account_cannot_see_stop_or_report_on_another_accounts_execution(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    agent_a = Peer(address, "i-web-1", token="agent-a")
    agent_b = Peer(address, "i-web-1", token="agent-b")
    await agent_a.hello()
    await agent_b.hello()
    invoke_id = await run_on(a, "i-web-1", "sleep 60")
    task = await receive_task(agent_a)

    # Account b's i-web-1 reports on account a's execution: told to stop what is not its
    # own, the result acknowledged, and dropped.
    now = Timestamp()
    now.GetCurrentTime()
    for message in (
        agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)),
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        ),
        agent_pb2.AgentMessage(
            output=agent_pb2.ExecutionOutput(execution_id=task.execution_id, data=b"forged")
        ),
        agent_pb2.AgentMessage(
            result=agent_pb2.ExecutionResult(
                execution_id=task.execution_id, status=SUCCESS, output=b"forged"
            )
        ),
    ):
        await agent_b.send(message)
    assert (await agent_b.receive()).stop.execution_id == task.execution_id
    assert (await agent_b.receive()).result_ack.execution_id == task.execution_id
    [untouched] = await results(a, invoke_id)
    assert untouched.invocation_status == common_pb2.INVOCATION_STATUS_PENDING
    assert (untouched.output, untouched.HasField("start_time")) == (b"", False)

    # Account b's client sees nothing of it and cannot stop it.
    for call in (
        b.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id),
            metadata=b.metadata,
        ),
        b.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id=invoke_id), metadata=b.metadata
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await b.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(instance_id="i-web-1"), metadata=b.metadata
    )
    assert listed.total_count == 0

    # Account b's i-web-1 leaving does not make account a's look gone: a's stop is sent
    # to a's agent (Stopping), not ended at once as for an agent no dispatcher holds.
    await start_with_output(agent_a, task, b"mine\n")
    await agent_b.close()
    await until_disconnected(servers.url, account_id="222", instance_id="i-web-1")
    await a.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=invoke_id), metadata=a.metadata
    )
    stop = await agent_a.receive()
    assert stop.stop.execution_id == task.execution_id
    [stopping] = await results(a, invoke_id)
    assert (stopping.invocation_status, stopping.output) == (
        common_pb2.INVOCATION_STATUS_STOPPING,
        b"mine\n",
    )
    await agent_a.close()


async def hello_refusal(peer: Peer) -> Refusal | None:
    """None when the Hello is welcome, else what refused it."""
    try:
        await peer.hello()
    except grpc.aio.AioRpcError as error:
        return decode(error)
    return None


async def test_new_instances_past_max_instances_are_refused_and_known_ones_reconnect(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file, limits=Limits(max_instances=3))
    peers = [Peer(address, f"i-{n}", token="agent-a") for n in range(8)]

    outcomes = await asyncio.gather(*(hello_refusal(peer) for peer in peers))

    welcomed = [peer for peer, refusal in zip(peers, outcomes, strict=True) if refusal is None]
    assert len(welcomed) == 3
    refusals = [refusal for refusal in outcomes if refusal is not None]
    assert len(refusals) == 5
    for peer, refusal in zip(peers, outcomes, strict=True):
        if refusal is None:
            continue
        message = (
            "the account already has 3 instances in this region; "
            f"instance {peer.instance_id} is not registered"
        )
        refusal.assert_code(
            grpc.StatusCode.RESOURCE_EXHAUSTED, RefusalCode.QUOTA_EXCEED_INSTANCE, message
        )
        assert refusal.quota_failure is not None
        assert [(v.subject, v.description) for v in refusal.quota_failure.violations] == [
            ("MaxInstanceCount", message)
        ]
    a, b = connect(address, "client-a"), connect(address, "client-b")
    listed = await a.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(), metadata=a.metadata
    )
    assert sorted(i.instance_id for i in listed.instances) == sorted(
        p.instance_id for p in welcomed
    )

    # A known instance always reconnects (here with a new boot); another account has its own quota.
    await welcomed[0].close()
    again = Peer(address, welcomed[0].instance_id, token="agent-a")
    await again.hello(boot_id="b-2")
    assert await hello_refusal(Peer(address, "i-new", token="agent-a")) is not None
    theirs = Peer(address, welcomed[0].instance_id, token="agent-b")
    await theirs.hello()

    for client, used in ((a, 3), (b, 1)):
        response = await client.fleet.DescribeAccountAttributes(
            fleet_pb2.DescribeAccountAttributesRequest(), metadata=client.metadata
        )
        quotas = {q.name: (q.used, q.limit) for q in response.attributes}
        assert quotas["MaxInstanceCount"] == (used, 3)
    for peer in [*peers, again, theirs]:
        await peer.close()


async def test_a_run_on_1000_long_instance_ids_sends_one_small_dispatch_notice(
    servers: ServerFactory, database_url: str
) -> None:
    # The API on a replica of its own: a replica hands its own agents their work unannounced.
    address = await servers.start(
        limits=Limits(max_instances_per_call=1000), roles=frozenset({ServerRole.API})
    )
    ids = [f"i-{n:04d}-".ljust(64, "x") for n in range(1000)]
    peer = Peer(await servers.start(roles=frozenset({ServerRole.DISPATCHER})), ids[-1])
    await peer.hello()
    engine = create_engine(servers.url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(instances),
            [
                {"id": i, "account_id": "default", "region_id": "local", "os_type": "linux"}
                for i in ids[:-1]
            ],
        )
        holder = (
            await conn.execute(select(instances.c.dispatcher_id).where(instances.c.id == ids[-1]))
        ).scalar_one()
    await engine.dispose()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listen:
        channel = sql.Identifier(dispatch_channel(holder))
        await listen.execute(sql.SQL("LISTEN {}").format(channel))
        await listen.execute("LISTEN test_end")
        kairos = connect(address)
        invoke_id = (await kairos.invocations.RunCommand(run_request(instance_ids=ids))).invoke_id
        assert (await receive_task(peer)).invoke_id == invoke_id
        # Notices come in commit order: this one follows everything the run sent.
        await listen.execute("NOTIFY test_end")
        payloads = []
        async for notice in listen.notifies(timeout=10):
            if notice.channel == "test_end":
                break
            payloads.append(notice.payload)
    assert payloads == [invoke_id]
    await peer.close()
