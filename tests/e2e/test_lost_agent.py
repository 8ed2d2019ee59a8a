"""A machine that never comes back: its execution ends, the invocation is final, watches end."""

from __future__ import annotations

from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import finished, output_seen, results, running_cluster

pytestmark = pytest.mark.e2e

S = common_pb2
LOST_AFTER = 4


async def test_an_agent_killed_for_good_mid_run_ends_its_execution(
    database_url: str, tmp_path: Path
) -> None:
    flags = ["--heartbeat-interval", "2", "--agent-lost-after", str(LOST_AFTER)]
    async with running_cluster(tmp_path, database_url, server_flags=flags, agents={}) as cluster:
        agent = await cluster.start_agent("i-1")
        kairos = cluster.client()
        response = await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                # Runs until its agent dies (then it has no one to report to), at most
                # 2 minutes: nothing outlives the test.
                command_content=(
                    "echo started; for n in $(seq 600); do "
                    "kill -0 $PPID 2>/dev/null || exit 0; sleep 0.2; done"
                ),
                instance_ids=["i-1"],
            )
        )
        await output_seen(kairos, response.invoke_id, b"started")
        agent.kill()  # the machine is gone for good: no result will ever come
        # The watch ends on its own: within --agent-lost-after and a sweep, well inside
        # the helper's 60 s (the issue allows lost-after + 30 s).
        end = await finished(kairos, response.invoke_id)
        assert end["status"] == S.INVOCATION_STATUS_FAILED
        result = (await results(kairos, response.invoke_id))["i-1"]
        assert result.invocation_status == S.INVOCATION_STATUS_ERROR
        assert result.error_code == "ClientNotResponse"
        assert result.output == b"started\n"
