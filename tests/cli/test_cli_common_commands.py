"""`kairos command list --provider kairos` and `kairos command show` (issue 13, item 4)."""

import base64

from kairos.v1 import command_pb2

from .cli_harness import ScriptedServer, kairos

SCRIPT = "# Kairos-RestartService\nname={{serviceName}}\n"
RESTART = command_pb2.Command(
    command_id="Kairos-RestartService",
    name="Kairos-RestartService",
    command_content=base64.b64encode(SCRIPT.encode()).decode(),
    provider="kairos",
    parameter_names=["serviceName", "retries", "dryRun"],
    parameter_definitions=[
        command_pb2.ParameterDefinition(
            name="serviceName",
            description="The service.",
            type=command_pb2.PARAMETER_TYPE_STRING,
            required=True,
            pattern_allowed="[a-z]+",
        ),
        command_pb2.ParameterDefinition(
            name="retries",
            description="How often.",
            type=command_pb2.PARAMETER_TYPE_INTEGER,
            default_value="3",
            min_value=1,
            max_value=9,
        ),
        command_pb2.ParameterDefinition(
            name="dryRun",
            description="Change nothing.",
            type=command_pb2.PARAMETER_TYPE_BOOLEAN,
            default_value="false",
        ),
    ],
)


async def test_list_asks_for_the_common_commands(api: ScriptedServer) -> None:
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(commands=[RESTART], total_count=1),
    )
    for argv in (["command", "list"], ["commands"]):
        outcome = await kairos(*argv, "--provider", "kairos", "--server", api.address)
        assert outcome.code == 0, outcome.err
        assert "Kairos-RestartService" in outcome.out
        assert "serviceName,retries,dryRun" in outcome.out
    sent = api.requests("CommandService/DescribeCommands")
    assert [request.provider for request in sent] == ["kairos", "kairos"]


async def test_show_prints_the_typed_parameters_and_the_script(api: ScriptedServer) -> None:
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(commands=[RESTART], total_count=1),
    )
    outcome = await kairos("command", "show", "Kairos-RestartService", "--server", api.address)
    assert outcome.code == 0, outcome.err
    request = api.requests("CommandService/DescribeCommands")[0]
    assert (request.command_id, request.provider) == ("Kairos-RestartService", "kairos")
    lines = outcome.out.splitlines()
    assert "provider          kairos" in lines
    header = lines.index(next(line for line in lines if line.startswith("PARAMETER")))
    assert lines[header].split() == ["PARAMETER", "TYPE", "DEFAULT", "RULE", "DESCRIPTION"]
    assert lines[header + 1].split() == [
        "serviceName",
        "String",
        "(required)",
        "matches",
        "[a-z]+",
        "The",
        "service.",
    ]
    assert lines[header + 2].split()[:4] == ["retries", "Integer", "3", "1-9"]
    assert lines[header + 3].split()[:4] == ["dryRun", "Boolean", "false", "-"]
    assert outcome.out.endswith(f"\n\n{SCRIPT}")


async def test_show_an_account_s_own_command(api: ScriptedServer) -> None:
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(
            commands=[command_pb2.Command(command_id="c-1", name="mine")], total_count=1
        ),
    )
    outcome = await kairos("command", "show", "c-1", "--server", api.address)
    assert outcome.code == 0, outcome.err
    assert "PARAMETER" not in outcome.out
    request = api.requests("CommandService/DescribeCommands")[0]
    assert (request.command_id, request.provider) == ("c-1", "")


async def test_show_a_missing_command(api: ScriptedServer) -> None:
    api.reply("CommandService/DescribeCommands", command_pb2.DescribeCommandsResponse())
    outcome = await kairos("command", "show", "Kairos-Nope", "--server", api.address)
    assert (outcome.code, outcome.out) == (1, "")
    assert "command Kairos-Nope not found" in outcome.err
