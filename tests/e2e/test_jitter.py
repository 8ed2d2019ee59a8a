"""End to end, jitter and the end bound (issue 12 item 5): real server, real agents, real
clocks. Each agent's script starts its own stable offset after the nominal instant, which
every run of one fire shares; after the end the invocation finishes by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.jitter import jitter_offset
from tests.e2e.cluster import finished, history, invocation, moment, running_cluster

pytestmark = pytest.mark.e2e

S = common_pb2
TEN = timedelta(seconds=10)
JITTER = 5
ON_TIME = timedelta(seconds=1)
"""Longest accepted delay from a target's jittered instant to the start of its script."""


async def test_jittered_runs_start_at_their_offsets_and_the_schedule_ends_at_its_end(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": [], "i-2": []}
    ) as cluster:
        kairos = cluster.client()
        end = Timestamp()
        end.FromDatetime(datetime.now(UTC) + timedelta(seconds=25))
        request = invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo tick",
            instance_ids=["i-1", "i-2"],
            frequency="rate(10s)",
            max_jitter=JITTER,
            end_time=end,
        )
        invoke_id = (await kairos.invocations.RunCommand(request)).invoke_id
        created = moment((await invocation(kairos, invoke_id)).creation_time)

        # Fires at +10 s and +20 s; +30 s is past the end: the invocation ends by itself.
        assert (await finished(kairos, invoke_id))["status"] == S.INVOCATION_STATUS_SUCCESS
        runs = await history(kairos, invoke_id)
        assert sorted((r.instance_id, moment(r.scheduled_time)) for r in runs) == [
            ("i-1", created + TEN),
            ("i-1", created + 2 * TEN),
            ("i-2", created + TEN),
            ("i-2", created + 2 * TEN),
        ]
        for result in runs:
            offset = jitter_offset(invoke_id, result.instance_id, JITTER)
            late = moment(result.start_time) - moment(result.scheduled_time)
            assert offset <= late < offset + ON_TIME, (result.instance_id, offset, late)
        done = await invocation(kairos, invoke_id)
        assert [t.HasField("next_fire_time") for t in done.instances] == [False, False]
        assert [t.repeats for t in done.instances] == [2, 2]
