"""TagService over a real server: every call and refusal, tenancy, and tags that go with
their resource."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import (
    activation_pb2,
    agent_pb2,
    command_pb2,
    common_pb2,
    fleet_pb2,
    invocation_pb2,
    tag_pb2,
)
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import ResourceType
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.local import Kairos, connect
from scheduler.store import tags as tag_store
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.locks import until_blocked
from tests.service.refusals import decode, refused, violations

INSTANCE = common_pb2.RESOURCE_TYPE_INSTANCE
COMMAND = common_pb2.RESOURCE_TYPE_COMMAND


def tags(**pairs: str) -> list[common_pb2.Tag]:
    return [common_pb2.Tag(key=k, value=v) for k, v in pairs.items()]


async def tag(kairos: Kairos, kind: int, ids: list[str], new: list[common_pb2.Tag]) -> None:
    await kairos.tags.TagResources(
        tag_pb2.TagResourcesRequest(resource_type=kind, resource_ids=ids, tags=new),  # type: ignore[arg-type]
        metadata=kairos.metadata,
    )


async def listed(
    kairos: Kairos, kind: int, *, ids: Sequence[str] = (), having: Sequence[common_pb2.Tag] = ()
) -> list[tuple[str, str, str, bool]]:
    """Every page of ListTagResources, as (resource id, key, value, reported)."""
    rows: list[tuple[str, str, str, bool]] = []
    token = ""
    while True:
        page = await kairos.tags.ListTagResources(
            tag_pb2.ListTagResourcesRequest(
                resource_type=kind,  # type: ignore[arg-type]
                resource_ids=ids,
                tags=having,
                max_results=2,
                next_token=token,
            ),
            metadata=kairos.metadata,
        )
        rows += [(t.resource_id, t.tag_key, t.tag_value, t.reported) for t in page.tag_resources]
        if not (token := page.next_token):
            return rows


async def new_command(kairos: Kairos, name: str = "c") -> str:
    created = await kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name=name, type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        ),
        metadata=kairos.metadata,
    )
    return str(created.command_id)


async def test_tag_list_and_untag_instances(kairos: Kairos, peers: list[Peer]) -> None:
    await tag(kairos, INSTANCE, ["i-1", "i-2"], tags(env="prod", team="web"))
    await tag(kairos, INSTANCE, ["i-2"], tags(env="staging"))  # a key it has: new value

    assert await listed(kairos, INSTANCE, ids=["i-1", "i-2", "i-3"]) == [
        ("i-1", "env", "prod", False),
        ("i-1", "team", "web", False),
        ("i-2", "env", "staging", False),
        ("i-2", "team", "web", False),
    ]
    # By tags: all must match; an empty value asks for the key only.
    assert {r[0] for r in await listed(kairos, INSTANCE, having=tags(env="prod"))} == {"i-1"}
    assert {r[0] for r in await listed(kairos, INSTANCE, having=tags(team=""))} == {"i-1", "i-2"}
    assert await listed(kairos, INSTANCE, having=tags(env="prod", team="db")) == []

    await kairos.tags.UntagResources(
        tag_pb2.UntagResourcesRequest(
            resource_type=INSTANCE, resource_ids=["i-1"], tag_keys=["env", "nope"]
        ),
        metadata=kairos.metadata,
    )
    await kairos.tags.UntagResources(
        tag_pb2.UntagResourcesRequest(resource_type=INSTANCE, resource_ids=["i-2"], all=True),
        metadata=kairos.metadata,
    )
    assert await listed(kairos, INSTANCE, ids=["i-1", "i-2"]) == [("i-1", "team", "web", False)]


async def test_commands_carry_tags_and_lose_them_when_deleted(kairos: Kairos) -> None:
    command_id = await new_command(kairos)
    await tag(kairos, COMMAND, [command_id], tags(owner="ops"))
    assert await listed(kairos, COMMAND, having=tags(owner="ops")) == [
        (command_id, "owner", "ops", False)
    ]

    await kairos.commands.DeleteCommand(
        command_pb2.DeleteCommandRequest(command_id=command_id), metadata=kairos.metadata
    )

    assert await listed(kairos, COMMAND, having=tags(owner="ops")) == []


async def test_refusals_name_the_field_and_the_rule(kairos: Kairos, peers: list[Peer]) -> None:
    cases = [
        (tags(**{"acs:x": "1"}), RefusalCode.INVALID_TAG_KEY_MALFORMED, "tags[0].key"),
        (tags(Aliyun_x="1"), RefusalCode.INVALID_TAG_KEY_MALFORMED, "tags[0].key"),
        (tags(**{"k" * 65: "1"}), RefusalCode.INVALID_TAG_KEY_MALFORMED, "tags[0].key"),
        (tags(**{"": "1"}), RefusalCode.INVALID_TAG_KEY_MALFORMED, "tags[0].key"),
        (tags(k="v" * 129), RefusalCode.INVALID_TAG_VALUE_MALFORMED, "tags[0].value"),
        (tags(**{f"k{n}": "" for n in range(21)}), RefusalCode.INVALID_TAG_COUNT, "tags"),
        ([], RefusalCode.INVALID_TAG_COUNT, "tags"),
    ]
    for given, code, field in cases:
        refusal = await refused(
            kairos.tags.TagResources(
                tag_pb2.TagResourcesRequest(
                    resource_type=INSTANCE, resource_ids=["i-1"], tags=given
                ),
                metadata=kairos.metadata,
            )
        )
        assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
        assert refusal.info.reason == code.value
        assert [f for f, _ in violations(refusal)] == [field]
    # Within the request but past 20 on the resource: nothing of it is kept.
    await tag(kairos, INSTANCE, ["i-1"], tags(**{f"a{n}": "" for n in range(15)}))
    refusal = await refused(
        kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(
                resource_type=INSTANCE,
                resource_ids=["i-2", "i-1"],
                tags=tags(**{f"b{n}": "" for n in range(6)}),
            ),
            metadata=kairos.metadata,
        )
    )
    refusal.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_TAG_COUNT,
        "i-1 would have 21 tags; the limit is 20 per resource",
    )
    assert await listed(kairos, INSTANCE, ids=["i-2"]) == []
    missing_type = await refused(
        kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(resource_ids=["i-1"], tags=tags(a="")),
            metadata=kairos.metadata,
        )
    )
    assert missing_type.info.reason == RefusalCode.INVALID_RESOURCE_TYPE_NOT_SUPPORTED.value
    unknown = await refused(
        kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(
                resource_type=INSTANCE, resource_ids=["i-1", "i-9", "i-8"], tags=tags(a="")
            ),
            metadata=kairos.metadata,
        )
    )
    unknown.assert_code(
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_RESOURCE_ID_NOT_FOUND,
        "instances not found: i-9, i-8",
    )
    both = await refused(
        kairos.tags.ListTagResources(
            tag_pb2.ListTagResourcesRequest(
                resource_type=INSTANCE, resource_ids=["i-1"], tags=tags(a="")
            ),
            metadata=kairos.metadata,
        )
    )
    assert both.info.reason == RefusalCode.INVALID_RESOURCE_ID.value
    neither = await refused(
        kairos.tags.UntagResources(
            tag_pb2.UntagResourcesRequest(resource_type=INSTANCE, resource_ids=["i-1"]),
            metadata=kairos.metadata,
        )
    )
    assert [f for f, _ in violations(neither)] == ["tag_keys"]


async def test_another_accounts_resource_reads_as_unknown(
    servers: ServerFactory, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    agent = Peer(address, "i-a", token="agent-a")
    await agent.hello()
    command_id = await new_command(a)
    await tag(a, INSTANCE, ["i-a"], tags(env="prod"))

    for kind, resource_id in ((INSTANCE, "i-a"), (COMMAND, command_id)):
        for call in (
            b.tags.TagResources(
                tag_pb2.TagResourcesRequest(
                    resource_type=kind,
                    resource_ids=[resource_id],
                    tags=tags(x=""),
                ),
                metadata=b.metadata,
            ),
            b.tags.ListTagResources(
                tag_pb2.ListTagResourcesRequest(resource_type=kind, resource_ids=[resource_id]),
                metadata=b.metadata,
            ),
        ):
            refusal = await refused(call)
            assert refusal.status == grpc.StatusCode.NOT_FOUND
            assert refusal.message.endswith(f"not found: {resource_id}")
    assert await listed(b, INSTANCE, having=tags(env="prod")) == []
    assert await listed(a, INSTANCE, having=tags(env="prod")) == [("i-a", "env", "prod", False)]
    # Nor does another account's selector reach it.
    by_tags = invocation_pb2.RunCommandRequest(
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        resource_tags=tags(env="prod"),
    )
    elsewhere = await refused(b.invocations.RunCommand(by_tags, metadata=b.metadata))
    assert elsewhere.info.reason == RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND.value
    await a.invocations.RunCommand(by_tags, metadata=a.metadata)
    await agent.close()


@pytest.mark.parametrize(
    "kind", [common_pb2.RESOURCE_TYPE_INVOCATION, common_pb2.RESOURCE_TYPE_ACTIVATION]
)
async def test_unknown_invocations_and_activations(kairos: Kairos, kind: int) -> None:
    refusal = await refused(
        kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(resource_type=kind, resource_ids=["x-1"], tags=tags(a="")),  # type: ignore[arg-type]
            metadata=kairos.metadata,
        )
    )
    assert refusal.status == grpc.StatusCode.NOT_FOUND


async def test_reported_tags_are_replaced_at_every_hello_and_lose_to_api_tags(
    kairos: Kairos,
) -> None:
    agent = Peer(kairos.address, "i-r")
    await agent.hello(tags={"env": "dev", "rack": "r1", "zone": "a"})
    await tag(kairos, INSTANCE, ["i-r"], tags(env="prod"))
    assert await listed(kairos, INSTANCE, ids=["i-r"]) == [
        ("i-r", "env", "prod", False),
        ("i-r", "rack", "r1", True),
        ("i-r", "zone", "a", True),
    ]
    # The API tag wins in selectors too: the reported value is not seen.
    assert await listed(kairos, INSTANCE, having=tags(env="dev")) == []
    await agent.close()

    again = Peer(kairos.address, "i-r")
    await again.hello(tags={"rack": "r2", "env": "dev"})  # zone dropped, rack changed

    assert await listed(kairos, INSTANCE, ids=["i-r"]) == [
        ("i-r", "env", "prod", False),
        ("i-r", "rack", "r2", True),
    ]
    # Untagging removes API tags only: the reported env shows again.
    await kairos.tags.UntagResources(
        tag_pb2.UntagResourcesRequest(resource_type=INSTANCE, resource_ids=["i-r"], all=True),
        metadata=kairos.metadata,
    )
    assert await listed(kairos, INSTANCE, ids=["i-r"]) == [
        ("i-r", "env", "dev", True),
        ("i-r", "rack", "r2", True),
    ]
    await again.close()


async def test_a_hello_with_a_bad_tag_is_refused(kairos: Kairos) -> None:
    agent = Peer(kairos.address, "i-bad")
    await agent.send(
        agent_pb2.AgentMessage(
            hello=agent_pb2.Hello(
                instance_id="i-bad", tags=[common_pb2.Tag(key="acs:owner", value="x")]
            )
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await agent.receive()
    await agent.close()
    refusal = decode(raised.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_TAG_KEY_MALFORMED.value
    assert [f for f, _ in violations(refusal)] == ["hello.tags[0].key"]


async def test_a_hello_with_the_same_tags_writes_no_tag(kairos: Kairos, database_url: str) -> None:
    agent = Peer(kairos.address, "i-same")
    await agent.hello(tags={"env": "dev", "rack": "r1"})
    await agent.close()
    before = await _row_versions(database_url)

    again = Peer(kairos.address, "i-same")
    await again.hello(boot_id="b-1", tags={"rack": "r1", "env": "dev"})
    await again.close()

    assert await _row_versions(database_url) == before


async def _row_versions(database_url: str) -> list[tuple[str, str]]:
    """Each tag row's key and the transaction that wrote it (a rewrite changes it)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await conn.execute("SELECT key, xmin::text FROM tags ORDER BY key")
        return [(key, xmin) for key, xmin in await rows.fetchall()]


async def test_resources_take_tags_at_creation_and_describe_filters_by_all_of_them(
    kairos: Kairos, peers: list[Peer]
) -> None:
    await tag(kairos, INSTANCE, ["i-1", "i-2"], tags(env="prod"))
    await tag(kairos, INSTANCE, ["i-2"], tags(team="web"))
    instances = await kairos.fleet.DescribeInstances(
        fleet_pb2.DescribeInstancesRequest(tags=tags(env="prod", team=""))
    )
    assert [(i.instance_id, pairs(i.tags)) for i in instances.instances] == [
        ("i-2", [("env", "prod"), ("team", "web")])
    ]
    assert instances.total_count == 1

    mine = await kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="tagged",
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="true",
            tags=tags(owner="ops", tier="1"),
        )
    )
    await new_command(kairos, "untagged")
    commands = await kairos.commands.DescribeCommands(
        command_pb2.DescribeCommandsRequest(tags=tags(owner="ops", tier="1"))
    )
    assert [(c.command_id, pairs(c.tags)) for c in commands.commands] == [
        (mine.command_id, [("owner", "ops"), ("tier", "1")])
    ]
    none = await kairos.commands.DescribeCommands(
        command_pb2.DescribeCommandsRequest(tags=tags(owner="ops", tier="2"))
    )
    assert list(none.commands) == []

    run = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="true",
            instance_ids=["i-1"],
            tags=tags(change="CHG-1"),
        )
    )
    invoked = await kairos.invocations.InvokeCommand(
        invocation_pb2.InvokeCommandRequest(
            command_id=mine.command_id, instance_ids=["i-1"], tags=tags(change="CHG-2")
        )
    )
    found = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(tags=tags(change=""))
    )
    assert {(i.invoke_id, pairs(i.tags)[0][1]) for i in found.invocations} == {
        (run.invoke_id, "CHG-1"),
        (invoked.invoke_id, "CHG-2"),
    }
    one = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(tags=tags(change="CHG-2"))
    )
    assert [i.invoke_id for i in one.invocations] == [invoked.invoke_id]

    activation = await kairos.activations.CreateActivation(
        activation_pb2.CreateActivationRequest(instance_count=1, tags=tags(site="fra"))
    )
    activations = await kairos.activations.DescribeActivations(
        activation_pb2.DescribeActivationsRequest(tags=tags(site="fra"))
    )
    assert [(a.activation_id, pairs(a.tags)) for a in activations.activations] == [
        (activation.activation_id, [("site", "fra")])
    ]
    bad = await refused(
        kairos.commands.CreateCommand(
            command_pb2.CreateCommandRequest(
                name="bad",
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="true",
                tags=tags(**{"aliyun-x": ""}),
            )
        )
    )
    assert [f for f, _ in violations(bad)] == ["tags[0].key"]
    # Refused: nothing was stored, the quota slot included.
    assert (
        await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    ).total_count == 2


def pairs(given: Sequence[common_pb2.Tag]) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in given]


async def test_tag_service_is_in_reflection_and_health(kairos: Kairos) -> None:
    # The stubs are typed for synchronous channels; these are asyncio ones.
    health: Any = health_pb2_grpc.HealthStub(kairos.channel)
    serving = await health.Check(health_pb2.HealthCheckRequest(service="kairos.v1.TagService"))
    assert serving.status == health_pb2.HealthCheckResponse.SERVING
    reflection: Any = reflection_pb2_grpc.ServerReflectionStub(kairos.channel)  # type: ignore[arg-type]
    call = reflection.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    answer = await call.read()
    await call.done_writing()
    names = {s.name for s in answer.list_services_response.service}
    assert "kairos.v1.TagService" in names


async def test_two_changes_of_one_resources_tags_cannot_together_pass_its_limit(
    kairos: Kairos, engine: AsyncEngine, database_url: str
) -> None:
    command_id = await new_command(kairos)
    mine = {f"a{i}": "v" for i in range(11)}
    async with engine.connect() as conn:
        # A TagResources in progress: its own statements, not committed yet.
        found = await tag_store.existing(conn, DEFAULT_TENANT, ResourceType.COMMAND, [command_id])
        assert found == {command_id}
        over = await tag_store.add_tags(
            conn, DEFAULT_TENANT, ResourceType.COMMAND, [command_id], mine
        )
        assert over == []
        other = asyncio.ensure_future(
            tag(kairos, COMMAND, [command_id], tags(**{f"b{i}": "v" for i in range(11)}))
        )
        blocked = asyncio.ensure_future(until_blocked(database_url))
        await asyncio.wait({other, blocked}, return_when=asyncio.FIRST_COMPLETED)
        blocked.cancel()
        await conn.commit()
    # Before, each counted only its own new tags: both passed, 22 tags on the command.
    refusal = await refused(other)
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_TAG_COUNT.value,
    )
    assert {key for _, key, _, _ in await listed(kairos, COMMAND, ids=[command_id])} == set(mine)
