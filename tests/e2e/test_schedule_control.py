"""End to end, schedule control: a real server (its ticker running), a real agent, real clocks.

A paused rate(10s) invocation lets a scheduled instant pass without running (the ticker
counts the skip), a trigger runs it at once, and the resume runs the next instant on its
grid. The test sleeps only until the schedule's own instants; the runs are awaited on
WatchInvocation events.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import (
    ended,
    history,
    invocation,
    moment,
    running_cluster,
    sleep_until,
    watch_until,
)

pytestmark = pytest.mark.e2e

S = common_pb2
I = invocation_pb2  # noqa: E741
TEN = timedelta(seconds=10)
SETTLE = timedelta(seconds=1.5)
"""Margin after a scheduled instant before asserting what it did (or did not) create."""


async def test_pause_trigger_resume_on_a_real_agent(database_url: str, tmp_path: Path) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        invoke_id = (
            await kairos.invocations.RunCommand(
                I.RunCommandRequest(
                    type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="echo tick",
                    instance_ids=["i-1"],
                    frequency="rate(10s)",
                )
            )
        ).invoke_id
        await kairos.invocations.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id))
        created = moment((await invocation(kairos, invoke_id)).creation_time)

        await sleep_until(created + TEN + SETTLE)
        paused = await invocation(kairos, invoke_id)
        assert paused.paused
        (target,) = paused.instances
        assert (target.paused_skips, target.repeats) == (1, 0)
        assert moment(target.next_fire_time) == created + 2 * TEN
        assert await history(kairos, invoke_id) == []

        triggered = await kairos.invocations.TriggerInvocation(
            I.TriggerInvocationRequest(invoke_id=invoke_id)
        )
        assert list(triggered.instance_ids) == ["i-1"]
        await watch_until(kairos, invoke_id, ended(1))
        [run] = await history(kairos, invoke_id)
        assert (run.invocation_status, run.output) == (S.INVOCATION_STATUS_SUCCESS, b"tick\n")
        assert run.scheduled_time == triggered.scheduled_time

        await kairos.invocations.ResumeInvocation(I.ResumeInvocationRequest(invoke_id=invoke_id))
        resumed = await invocation(kairos, invoke_id)
        assert not resumed.paused
        next_fire = moment(resumed.instances[0].next_fire_time)
        assert (next_fire - created) % TEN == timedelta(0)
        await watch_until(kairos, invoke_id, ended(2))
        runs = await history(kairos, invoke_id)
        assert [moment(r.scheduled_time) for r in runs][1] == next_fire
        assert runs[1].output == b"tick\n"
