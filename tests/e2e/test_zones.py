"""End to end, issue 9: an agent's bad time zone stops no schedule, with real processes.

A real agent started with ``--time-zone Etc`` reports UTC by itself, so the bad
Hello comes from a scripted agent over a real socket to the real server; a row
written before Hello was checked is made by hand. The server's own ticker runs.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from tests.e2e.cluster import ended, history, running_cluster, watch_until
from tests.service.harness import Peer

pytestmark = pytest.mark.e2e

S = common_pb2


def every_10s(instance_id: str) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="echo tick",
        instance_ids=[instance_id],
        repeat_mode=S.REPEAT_MODE_PERIOD,
        frequency="rate(10s)",
    )


async def test_a_bad_agent_zone_stops_no_schedule(database_url: str, tmp_path: Path) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": [], "i-etc": ["--time-zone", "Etc"]}
    ) as cluster:
        kairos = cluster.client()
        scripted = Peer(cluster.address, "i-bad")
        await scripted.hello(time_zone="Etc")
        shown = await kairos.fleet.DescribeInstances(fleet_pb2.DescribeInstancesRequest())
        zones = {i.instance_id: i.time_zone for i in shown.instances}
        assert (zones["i-etc"], zones["i-bad"]) == ("UTC", "UTC")
        assert any("'Etc' cannot be loaded" in line for line in cluster.agents["i-etc"].tail(40))

        theirs = await kairos.invocations.RunCommand(every_10s("i-1"))
        bad = await kairos.invocations.RunCommand(every_10s("i-bad"))
        assert bad.invoke_id
        # A row written before Hello was checked: the ticker reads the directory's name.
        # Both targets fall due at one instant, so that one round claims both.
        async with await psycopg.AsyncConnection.connect(cluster.database_url) as db:
            await db.execute("UPDATE instances SET time_zone = 'Etc' WHERE id = 'i-bad'")
            await db.execute(
                "UPDATE invocation_targets SET next_fire_at = (SELECT next_fire_at "
                "FROM invocation_targets WHERE invocation_id = %(theirs)s) "
                "WHERE invocation_id = %(bad)s",
                {"theirs": theirs.invoke_id, "bad": bad.invoke_id},
            )
        await watch_until(kairos, theirs.invoke_id, ended(1), within=30)
        [run] = await history(kairos, theirs.invoke_id)
        assert run.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert (await scripted.receive()).WhichOneof("kind") == "task"
        await scripted.close()
