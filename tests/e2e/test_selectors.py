"""End to end, an invocation by selector with real agents and a real ticker: the agent
started after it was created joins from the next fire, the one whose tag is removed
leaves, its history kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2, tag_pb2
from tests.e2e.cluster import ended, history, invocation, running_cluster, watch_until

pytestmark = pytest.mark.e2e

S = common_pb2


async def test_a_periodic_selector_follows_the_tags_of_real_agents(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-old": []}
    ) as cluster:
        kairos = cluster.client()
        await kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(
                resource_type=S.RESOURCE_TYPE_INSTANCE,
                resource_ids=["i-old"],
                tags=[common_pb2.Tag(key="env", value="prod")],
            )
        )
        invoke_id = (
            await kairos.invocations.RunCommand(
                invocation_pb2.RunCommandRequest(
                    type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="echo $KAIROS_INSTANCE_ID tick",
                    frequency="rate(10s)",
                    resource_tags=[common_pb2.Tag(key="env", value="prod")],
                )
            )
        ).invoke_id
        await watch_until(kairos, invoke_id, ended(1, "i-old"))

        # Started after the invocation, reporting the tag: it joins.
        await cluster.start_agent("i-new", "--tag", "env=prod")
        # Untagged: it leaves from the next fire.
        await kairos.tags.UntagResources(
            tag_pb2.UntagResourcesRequest(
                resource_type=S.RESOURCE_TYPE_INSTANCE, resource_ids=["i-old"], tag_keys=["env"]
            )
        )
        old_runs = len(await history(kairos, invoke_id, "i-old"))
        await watch_until(kairos, invoke_id, ended(2, "i-new"))

        assert len(await history(kairos, invoke_id, "i-old")) == old_runs  # its history stays
        for run in await history(kairos, invoke_id):
            assert run.invocation_status == S.INVOCATION_STATUS_SUCCESS
        described = await invocation(kairos, invoke_id)
        assert {t.instance_id: t.selected for t in described.instances} == {
            "i-old": False,
            "i-new": True,
        }
        assert described.invocation_status == S.INVOCATION_STATUS_SCHEDULED
