"""One agent's time zone never stops anyone's schedules (issue 9), over a real server.

Account A's agent reports ``Etc``, a directory of the zone database that
``ZoneInfo`` cannot load; account B only has a schedule on its own instance.
The server has no ticker of its own: each test drives one by hand.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import command_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.operations import firing
from scheduler.operations.context import Context
from scheduler.server.config import ServerRole
from scheduler.store.database import create_engine
from scheduler.store.listener import Listener, conninfo
from scheduler.store.targets import ArmedTarget
from scheduler.ticker import Ticker
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer

S = common_pb2
NO_TICKER = frozenset({ServerRole.API, ServerRole.DISPATCHER})
BAD_ZONE = "Etc"


@dataclass(kw_only=True)
class TwoAccounts:
    """A server without a ticker, a hand-driven ticker, a client and an agent per account."""

    a: Kairos
    b: Kairos
    agent_a: Peer
    agent_b: Peer
    ticker: Ticker
    engine: AsyncEngine

    async def shift(self, invoke_id: str, seconds: float) -> None:
        """Pretend the invocation was created ``seconds`` earlier and no ticker ran since."""
        async with self.engine.begin() as conn:
            shift = {"s": seconds, "id": invoke_id}
            for table, column in (
                ("invocations", "created_at"),
                ("invocation_targets", "next_fire_at"),
            ):
                await conn.execute(
                    text(
                        f"UPDATE {table} SET {column} = {column} - make_interval(secs => :s) "
                        f"WHERE {'id' if table == 'invocations' else 'invocation_id'} = :id"
                    ),
                    shift,
                )

    async def set_zone(self, instance_id: str, zone: str) -> None:
        """Write an instance's stored zone directly, as an older server may have."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE instances SET time_zone = :zone WHERE id = :id"),
                {"zone": zone, "id": instance_id},
            )

    async def history(
        self, client: Kairos, invoke_id: str
    ) -> list[invocation_pb2.InvocationResult]:
        response = await client.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(
                invoke_id=invoke_id, include_history=True, max_results=50
            ),
            metadata=client.metadata,
        )
        return list(response.results)

    async def targets(
        self, client: Kairos, invoke_id: str
    ) -> list[invocation_pb2.InvocationInstance]:
        response = await client.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id),
            metadata=client.metadata,
        )
        return list(response.invocations[0].instances)


@pytest_asyncio.fixture
async def two(servers: ServerFactory, tmp_path: Path) -> AsyncIterator[TwoAccounts]:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth_file, roles=NO_TICKER)
    engine = create_engine(servers.url)
    listener = Listener(conninfo(servers.url), [])
    await listener.start()
    agent_a = Peer(address, "i-a", token="agent-a")
    agent_b = Peer(address, "i-b", token="agent-b")
    await agent_a.hello(time_zone=BAD_ZONE)
    await agent_b.hello()
    yield TwoAccounts(
        a=connect(address, "client-a"),
        b=connect(address, "client-b"),
        agent_a=agent_a,
        agent_b=agent_b,
        ticker=Ticker(Context(engine=engine, limits=Limits()), listener),
        engine=engine,
    )
    for peer in (agent_a, agent_b):
        await peer.close()
    await listener.stop()
    await engine.dispose()


def every_10s(instance_id: str) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        instance_ids=[instance_id],
        repeat_mode=S.REPEAT_MODE_PERIOD,
        frequency="rate(10s)",
    )


async def test_an_invalid_reported_zone_is_stored_and_shown_as_utc(
    servers: ServerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth_file, roles=NO_TICKER)
    agent = Peer(address, "i-a", token="agent-a")
    with caplog.at_level(logging.WARNING, logger="scheduler.operations.lifecycle"):
        await agent.hello(time_zone=BAD_ZONE)
    warnings = [r for r in caplog.records if "invalid time zone" in r.getMessage()]
    assert len(warnings) == 1
    assert repr(BAD_ZONE) in warnings[0].getMessage()
    assert getattr(warnings[0], "instance_id", None) == "i-a"
    client = connect(address, "client-a")
    instances = await client.fleet.DescribeInstances(
        fleet_pb2.DescribeInstancesRequest(), metadata=client.metadata
    )
    assert [(i.instance_id, i.time_zone) for i in instances.instances] == [("i-a", "UTC")]
    status = await client.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(), metadata=client.metadata
    )
    assert [s.time_zone for s in status.instances] == ["UTC"]
    await agent.close()
    await client.channel.close()


async def test_a_period_on_an_instance_that_reported_a_bad_zone_is_accepted(
    two: TwoAccounts,
) -> None:
    run = await two.a.invocations.RunCommand(every_10s("i-a"), metadata=two.a.metadata)
    assert run.invoke_id
    # A cron without its own zone uses the instance's: UTC here.
    command = await two.a.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="nightly", type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        ),
        metadata=two.a.metadata,
    )
    invoked = await two.a.invocations.InvokeCommand(
        invocation_pb2.InvokeCommandRequest(
            command_id=command.command_id,
            instance_ids=["i-a"],
            repeat_mode=S.REPEAT_MODE_PERIOD,
            frequency="0 0 3 * * ?",
        ),
        metadata=two.a.metadata,
    )
    [target] = await two.targets(two.a, invoked.invoke_id)
    fire = target.next_fire_time.ToDatetime()
    assert (fire.hour, fire.minute, fire.second) == (3, 0, 0)


async def test_a_stored_bad_zone_does_not_stop_another_accounts_schedule(
    two: TwoAccounts,
) -> None:
    # A's schedule was created while its agent reported a good zone; then its row came to
    # hold the directory's name (written before Hello was checked).
    await two.set_zone("i-a", "UTC")
    mine = await two.a.invocations.RunCommand(every_10s("i-a"), metadata=two.a.metadata)
    theirs = await two.b.invocations.RunCommand(every_10s("i-b"), metadata=two.b.metadata)
    await two.set_zone("i-a", BAD_ZONE)
    await two.shift(mine.invoke_id, 10.5)
    await two.shift(theirs.invoke_id, 10.5)
    assert await two.ticker.tick() == 2
    task = await two.agent_b.receive()
    assert task.WhichOneof("kind") == "task"
    [run_b] = await two.history(two.b, theirs.invoke_id)
    assert run_b.instance_id == "i-b"
    # The bad zone reads as UTC: A's rate schedule fires too.
    assert len(await two.history(two.a, mine.invoke_id)) == 1


async def test_a_target_that_cannot_be_decided_fails_alone(
    two: TwoAccounts, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await two.set_zone("i-a", "UTC")  # this test is about the ticker alone
    mine = await two.a.invocations.RunCommand(every_10s("i-a"), metadata=two.a.metadata)
    theirs = await two.b.invocations.RunCommand(every_10s("i-b"), metadata=two.b.metadata)
    real_decide = firing._decide

    def decide_one(target: ArmedTarget, *args: object, **kwargs: object) -> object:
        # The schedule engine breaks on A's target only (a bug, bad data).
        if target.invocation_id == mine.invoke_id:
            raise RuntimeError("the schedule engine broke")
        return real_decide(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(firing, "_decide", decide_one)
    errors_before = REGISTRY.get_sample_value("kairos_fire_errors_total") or 0
    await two.shift(mine.invoke_id, 10.5)
    await two.shift(theirs.invoke_id, 10.5)
    with caplog.at_level(logging.ERROR, logger="scheduler.operations.firing"):
        assert await two.ticker.tick() == 2
    assert len(await two.history(two.b, theirs.invoke_id)) == 1
    assert (await two.agent_b.receive()).WhichOneof("kind") == "task"
    # The failing target is disarmed, visibly: a log line with its ids and the metric.
    assert await two.history(two.a, mine.invoke_id) == []
    [target] = await two.targets(two.a, mine.invoke_id)
    assert not target.HasField("next_fire_time")
    [record] = [r for r in caplog.records if "could not be decided" in r.getMessage()]
    assert (getattr(record, "invocation_id", None), getattr(record, "instance_id", None)) == (
        mine.invoke_id,
        "i-a",
    )
    assert REGISTRY.get_sample_value("kairos_fire_errors_total") == errors_before + 1
    # It stays out of later rounds (only B's target is claimed); B's schedule goes on.
    await two.shift(mine.invoke_id, 10)
    await two.shift(theirs.invoke_id, 10)
    assert await two.ticker.tick() == 1
    [target_b] = await two.targets(two.b, theirs.invoke_id)
    assert (target_b.repeats, target_b.overlap_skips) == (1, 1)  # its first run goes on
