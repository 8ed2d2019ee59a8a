"""Scripts run as another user by a real agent process, many times over."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import finished, results, running_cluster

pytestmark = pytest.mark.e2e

S = common_pb2
RUNS = 30


async def test_every_run_as_another_user_succeeds_in_a_threaded_agent(
    database_url: str, tmp_path: Path
) -> None:
    # The agent is a real process with gRPC's threads; a user switch done by Python's
    # subprocess forked it and crashed the child (exit 139) in about one run in four.
    nobody = pwd.getpwnam("nobody")
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        outcomes = []
        for _ in range(RUNS):
            response = await kairos.invocations.RunCommand(
                invocation_pb2.RunCommandRequest(
                    type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="id -u; id -g",
                    instance_ids=["i-1"],
                    username="nobody",
                )
            )
            await finished(kairos, response.invoke_id)
            result = (await results(kairos, response.invoke_id))["i-1"]
            outcomes.append((result.invocation_status, result.exit_code, result.output))
    expected = (S.INVOCATION_STATUS_SUCCESS, 0, f"{nobody.pw_uid}\n{nobody.pw_gid}\n".encode())
    assert outcomes == [expected] * RUNS
