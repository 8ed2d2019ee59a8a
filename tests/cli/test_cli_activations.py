"""`kairos activation …` and `kairos instance deregister` against a scripted API."""

from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import activation_pb2

from .cli_harness import ScriptedServer, kairos

CREATED = Timestamp(seconds=1795325400)  # 2026-11-22T05:30:00Z
EXPIRES = Timestamp(seconds=1795339800)  # four hours later


async def test_create_sends_every_field_and_prints_the_code_once(api: ScriptedServer) -> None:
    api.reply(
        "ActivationService/CreateActivation",
        activation_pb2.CreateActivationResponse(activation_id="act-1", activation_code="s3cr3t"),
    )
    outcome = await kairos(
        "activation", "create", "--server", api.address, "--instance-count", "5",
        "--instance-name", "web", "--ttl-hours", "8", "--ip-address-range", "10.0.0.0/8",
        "--description", "the web tier",
    )  # fmt: skip
    assert (outcome.code, outcome.err) == (0, "")
    assert outcome.out == "activation_id    act-1\nactivation_code  s3cr3t\n"
    [request] = api.requests("ActivationService/CreateActivation")
    assert request == activation_pb2.CreateActivationRequest(
        instance_name="web",
        instance_count=5,
        time_to_live_in_hours=8,
        ip_address_range="10.0.0.0/8",
        description="the web tier",
    )


async def test_create_checks_the_count_before_calling(api: ScriptedServer) -> None:
    outcome = await kairos(
        "activation", "create", "--server", api.address, "--instance-count", "1001"
    )
    assert outcome.code == 2
    assert "1001" in outcome.err
    assert api.requests("ActivationService/CreateActivation") == []


async def test_list_prints_a_table(api: ScriptedServer) -> None:
    api.reply(
        "ActivationService/DescribeActivations",
        activation_pb2.DescribeActivationsResponse(
            activations=[
                activation_pb2.Activation(
                    activation_id="act-1",
                    instance_name="web",
                    instance_count=5,
                    registered_count=2,
                    deregistered_count=1,
                    ip_address_range="0.0.0.0/0",
                    creation_time=CREATED,
                    expiry_time=EXPIRES,
                )
            ],
            total_count=1,
        ),
    )
    outcome = await kairos("activation", "list", "--server", api.address, "--id", "act-1")
    assert outcome.code == 0
    assert outcome.out.splitlines() == [
        "ACTIVATION ID  INSTANCE NAME  REGISTERED  DEREGISTERED  IP RANGE   DISABLED  CREATED"
        "               EXPIRES",
        "act-1          web            2/5         1             0.0.0.0/0  no        "
        "2026-11-22T05:30:00Z  2026-11-22T09:30:00Z",
    ]
    [request] = api.requests("ActivationService/DescribeActivations")
    assert request.activation_id == "act-1"


async def test_disable_delete_and_deregister(api: ScriptedServer) -> None:
    api.reply("ActivationService/DisableActivation", activation_pb2.DisableActivationResponse())
    api.reply("ActivationService/DeleteActivation", activation_pb2.DeleteActivationResponse())
    api.reply(
        "ActivationService/DeregisterManagedInstance",
        activation_pb2.DeregisterManagedInstanceResponse(),
    )
    disabled = await kairos("activation", "disable", "act-1", "--server", api.address)
    deleted = await kairos("activation", "delete", "act-1", "--server", api.address)
    gone = await kairos("instance", "deregister", "mi-1", "--server", api.address)
    assert [o.out for o in (disabled, deleted, gone)] == [
        "disabled act-1\n",
        "deleted act-1\n",
        "deregistered mi-1\n",
    ]
    assert api.requests("ActivationService/DeleteActivation") == [
        activation_pb2.DeleteActivationRequest(activation_id="act-1")
    ]
    assert api.requests("ActivationService/DeregisterManagedInstance") == [
        activation_pb2.DeregisterManagedInstanceRequest(instance_id="mi-1")
    ]
