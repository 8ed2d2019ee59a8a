"""`kairos tag|untag|tags` and `-l/--selector`, `--tag` against a scripted API."""

from hypothesis import given
from hypothesis import strategies as st

from kairos.v1 import command_pb2, common_pb2, invocation_pb2, tag_pb2
from scheduler.cli.flags import selector
from scheduler.cli.tags import tags_text

from .cli_harness import ScriptedServer, kairos

INSTANCE = common_pb2.RESOURCE_TYPE_INSTANCE


def tags(*pairs: tuple[str, str]) -> list[common_pb2.Tag]:
    return [common_pb2.Tag(key=k, value=v) for k, v in pairs]


async def test_tag_sends_ids_then_tags(api: ScriptedServer) -> None:
    api.reply("TagService/TagResources", tag_pb2.TagResourcesResponse())
    outcome = await kairos(
        "tag", "instances", "i-1", "i-2", "env=prod", "note=a=b", "flag", "--server", api.address
    )
    # "flag" has no "=": it comes after a tag, so it is not an id.
    assert (outcome.code, outcome.err) == (
        2,
        "error: expected ID... KEY=VALUE... (ids first, then at least one KEY=VALUE)\n",
    )
    outcome = await kairos(
        "tag", "instances", "i-1", "i-2", "env=prod", "note=a=b", "--server", api.address
    )
    assert (outcome.code, outcome.out) == (0, "tagged 2 instance(s)\n")
    assert api.requests("TagService/TagResources") == [
        tag_pb2.TagResourcesRequest(
            resource_type=INSTANCE,
            resource_ids=["i-1", "i-2"],
            tags=tags(("env", "prod"), ("note", "a=b")),
        )
    ]


async def test_untag_takes_keys_like_kubectl_label(api: ScriptedServer) -> None:
    api.reply("TagService/UntagResources", tag_pb2.UntagResourcesResponse())
    assert (await kairos("untag", "command", "c-1", "env-", "--server", api.address)).code == 0
    assert (await kairos("untag", "command", "c-1", "--all", "--server", api.address)).code == 0
    refused = await kairos("untag", "command", "c-1", "env-", "--all", "--server", api.address)
    assert refused.code == 2
    assert api.requests("TagService/UntagResources") == [
        tag_pb2.UntagResourcesRequest(
            resource_type=common_pb2.RESOURCE_TYPE_COMMAND, resource_ids=["c-1"], tag_keys=["env"]
        ),
        tag_pb2.UntagResourcesRequest(
            resource_type=common_pb2.RESOURCE_TYPE_COMMAND, resource_ids=["c-1"], all=True
        ),
    ]


async def test_tags_lists_by_selector(api: ScriptedServer) -> None:
    api.reply(
        "TagService/ListTagResources",
        tag_pb2.ListTagResourcesResponse(
            tag_resources=[
                tag_pb2.TagResource(resource_id="i-1", tag_key="env", tag_value="prod"),
                tag_pb2.TagResource(
                    resource_id="i-1", tag_key="rack", tag_value="r1", reported=True
                ),
            ]
        ),
    )
    outcome = await kairos("tags", "-l", "env=prod,rack", "--server", api.address)
    assert outcome.out.splitlines() == [
        "INSTANCE  KEY   VALUE  SOURCE",
        "i-1       env   prod   api",
        "i-1       rack  r1     agent",
    ]
    [request] = api.requests("TagService/ListTagResources")
    assert request == tag_pb2.ListTagResourcesRequest(
        resource_type=INSTANCE, tags=tags(("env", "prod"), ("rack", ""))
    )
    assert (await kairos("tags", "--server", api.address)).code == 2


async def test_tags_says_more_are_left_without_inventing_a_total(api: ScriptedServer) -> None:
    page = [
        tag_pb2.TagResource(resource_id=f"i-{n}", tag_key="env", tag_value="prod")
        for n in range(10)
    ]
    api.reply(
        "TagService/ListTagResources",
        tag_pb2.ListTagResourcesResponse(tag_resources=page, next_token="tok"),
        tag_pb2.ListTagResourcesResponse(tag_resources=page),
    )
    # The API counts no total; before, the page's length stood for it: "(10 of 10 shown…".
    more = await kairos("tags", "-l", "env=prod", "--server", api.address)
    assert (more.code, more.err) == (0, "(10 shown; more with --next-token tok or --all)\n")
    last = await kairos("tags", "-l", "env=prod", "--next-token", "tok", "--server", api.address)
    assert (last.code, last.err) == (0, "")
    assert (await kairos("tags", "gadget", "x", "--server", api.address)).code == 2


async def test_a_selector_value_may_hold_an_escaped_comma(api: ScriptedServer) -> None:
    api.reply("TagService/ListTagResources", tag_pb2.ListTagResourcesResponse())
    selector = r"owners=ops\,web,path=C:\temp,end=\\,env"
    assert (await kairos("tags", "-l", selector, "--server", api.address)).code == 0
    [request] = api.requests("TagService/ListTagResources")
    assert list(request.tags) == tags(
        ("owners", "ops,web"), ("path", "C:\\temp"), ("end", "\\"), ("env", "")
    )


_TEXT = st.text(alphabet=st.sampled_from("ab=,\\ :"), max_size=6)


@given(
    st.lists(st.tuples(_TEXT.filter(lambda k: "=" not in k and k.strip() != ""), _TEXT), min_size=1)
)
def test_a_tags_cell_reads_back_as_the_same_selector(pairs: list[tuple[str, str]]) -> None:
    assert selector(tags_text(tags(*pairs))) == pairs


async def test_run_and_invoke_take_a_selector_and_tags(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    api.reply(
        "InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse(invoke_id="t-2")
    )
    api.reply("CommandService/CreateCommand", command_pb2.CreateCommandResponse(command_id="c-2"))
    run = await kairos(
        "run", "-l", "env=prod", "--selector", "role=web", "--tag", "change=CHG-1",
        "--frequency", "rate(1h)", "--server", api.address, "--", "true",
    )  # fmt: skip
    assert run.code == 0
    [request] = api.requests("InvocationService/RunCommand")
    assert list(request.resource_tags) == tags(("env", "prod"), ("role", "web"))
    assert list(request.tags) == tags(("change", "CHG-1"))
    assert list(request.instance_ids) == []
    await kairos("invoke", "c-2", "-l", "env", "--server", api.address)
    [invoked] = api.requests("InvocationService/InvokeCommand")
    assert list(invoked.resource_tags) == tags(("env", ""))
    both = await kairos("run", "-l", "env", "-i", "i-1", "--server", api.address, "--", "true")
    assert both.code == 2
    await kairos(
        "command", "create", "--name", "n", "--content", "true", "--tag", "owner=ops",
        "--server", api.address,
    )  # fmt: skip
    [created] = api.requests("CommandService/CreateCommand")
    assert list(created.tags) == tags(("owner", "ops"))


async def test_invocations_show_the_selector_and_who_matches_it_now(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                invocation_pb2.Invocation(
                    invoke_id="t-1",
                    resource_tags=tags(("env", "prod")),
                    tags=tags(("change", "CHG-1")),
                    instances=[
                        invocation_pb2.InvocationInstance(instance_id="i-1", selected=True),
                        invocation_pb2.InvocationInstance(instance_id="i-2"),
                    ],
                )
            ],
            total_count=1,
        ),
    )
    outcome = await kairos(
        "invocations", "--invoke-id", "t-1", "-l", "change=CHG-1", "--server", api.address
    )
    lines = outcome.out.splitlines()
    assert lines[0].split()[-3:] == ["SELECTOR", "TAGS", "RATE"]
    assert lines[1].split()[-3:] == ["env=prod", "change=CHG-1", "-"]
    assert lines[4].split()[-1] == "SELECTED"
    assert [line.split()[-1] for line in lines[5:7]] == ["yes", "no"]
    [request] = api.requests("InvocationService/DescribeInvocations")
    assert list(request.tags) == tags(("change", "CHG-1"))
