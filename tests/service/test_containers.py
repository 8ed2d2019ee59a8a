"""Container ids and names at the API (issue 13 item 2): refused before anything is stored,
or delivered to the agent as given."""

from __future__ import annotations

import grpc
import pytest

from kairos.v1 import command_pb2, common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos
from tests.service.harness import Peer
from tests.service.plays import receive_task, run_request
from tests.service.refusals import refused, violations

HEX_ID = "0123456789abcdef" * 4
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def _nothing_stored(kairos: Kairos) -> None:
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


@pytest.mark.parametrize(
    "container_id",
    [
        "abc",  # too short
        HEX_ID + "0",  # too long
        "g" * 64,  # not hexadecimal
        "podman://" + HEX_ID,  # a runtime Kairos does not speak
        "docker:/" + HEX_ID,
        "docker://",
    ],
)
async def test_a_bad_container_id_is_refused(
    kairos: Kairos, peers: list[Peer], container_id: str
) -> None:
    refusal = await refused(kairos.invocations.RunCommand(run_request(container_id=container_id)))
    assert refusal.status == INVALID
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_CONTAINER_ID
    [(field, description)] = violations(refusal)
    assert field == "container_id"
    assert "64 hexadecimal characters" in description and "cri-o://" in description
    await _nothing_stored(kairos)


@pytest.mark.parametrize("container_name", ["-web", ".web", "web/1", "web 1", "w" * 256, "wéb"])
async def test_a_bad_container_name_is_refused(
    kairos: Kairos, peers: list[Peer], container_name: str
) -> None:
    refusal = await refused(
        kairos.invocations.RunCommand(run_request(container_name=container_name))
    )
    assert refusal.status == INVALID
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_CONTAINER_NAME
    [(field, description)] = violations(refusal)
    assert field == "container_name" and "254" in description
    await _nothing_stored(kairos)


@pytest.mark.parametrize(
    "kind", [common_pb2.COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT, common_pb2.COMMAND_TYPE_RUN_BAT_SCRIPT]
)
async def test_only_shell_scripts_run_in_a_container(
    kairos: Kairos, peers: list[Peer], kind: common_pb2.CommandType
) -> None:
    refusal = await refused(
        kairos.invocations.RunCommand(run_request(type=kind, container_name="web"))
    )
    assert refusal.status == INVALID
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_CONTAINER
    assert violations(refusal)[0][0] == "container_name"
    await _nothing_stored(kairos)


async def test_a_saved_windows_command_is_not_invoked_in_a_container(
    kairos: Kairos, peers: list[Peer]
) -> None:
    created = await kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="bat",
            type=common_pb2.COMMAND_TYPE_RUN_BAT_SCRIPT,
            command_content="echo hi",
        )
    )
    refusal = await refused(
        kairos.invocations.InvokeCommand(
            invocation_pb2.InvokeCommandRequest(
                command_id=created.command_id, instance_ids=["i-1"], container_id=HEX_ID
            )
        )
    )
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_CONTAINER
    assert "RunBatScript" in refusal.message
    await _nothing_stored(kairos)


async def test_an_id_and_the_longest_name_reach_the_agent_as_given(
    kairos: Kairos, peers: list[Peer]
) -> None:
    name = "w" + "eb-1._" * 42 + "x" * 2  # 255 characters, Cloud Assistant's longest
    assert len(name) == 255
    response = await kairos.invocations.RunCommand(
        run_request(container_id="containerd://" + HEX_ID, container_name=name)
    )
    task = await receive_task(peers[0])
    assert (task.container_id, task.container_name) == ("containerd://" + HEX_ID, name)
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(invoke_id=response.invoke_id)
    )
    [stored] = listed.invocations
    assert (stored.container_id, stored.container_name) == ("containerd://" + HEX_ID, name)
