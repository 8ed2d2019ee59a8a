"""ActivationService over gRPC against PostgreSQL: create, describe, disable, delete."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from kairos.v1 import activation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH
from tests.service.managed import Issued, register
from tests.service.refusals import refused, violations


async def create(kairos: Kairos, **fields: object) -> activation_pb2.CreateActivationResponse:
    values: dict[str, object] = {"instance_count": 2}
    values.update(fields)
    request = activation_pb2.CreateActivationRequest(**values)  # type: ignore[arg-type]
    response: activation_pb2.CreateActivationResponse = await kairos.activations.CreateActivation(
        request, metadata=kairos.metadata
    )
    return response


async def describe(kairos: Kairos, **fields: object) -> activation_pb2.DescribeActivationsResponse:
    request = activation_pb2.DescribeActivationsRequest(**fields)  # type: ignore[arg-type]
    response: activation_pb2.DescribeActivationsResponse = (
        await kairos.activations.DescribeActivations(request, metadata=kairos.metadata)
    )
    return response


async def test_create_then_describe(kairos: Kairos) -> None:
    created = await create(
        kairos,
        instance_name="web",
        instance_count=5,
        time_to_live_in_hours=2,
        ip_address_range="10.0.0.0/8",
        description="the web tier",
    )
    assert created.activation_id.startswith("act-") and len(created.activation_id) == 28
    assert len(created.activation_code) >= 32
    [shown] = (await describe(kairos, activation_id=created.activation_id)).activations
    assert (shown.instance_name, shown.instance_count, shown.ip_address_range) == (
        "web",
        5,
        "10.0.0.0/8",
    )
    assert (shown.registered_count, shown.deregistered_count, shown.disabled) == (0, 0, False)
    assert shown.description == "the web tier"
    lifetime = shown.expiry_time.ToDatetime() - shown.creation_time.ToDatetime()
    assert lifetime.total_seconds() == 2 * 3600
    assert created.activation_code not in str(shown)


async def test_defaults(kairos: Kairos) -> None:
    created = await create(kairos)
    [shown] = (await describe(kairos, activation_id=created.activation_id)).activations
    assert shown.ip_address_range == "0.0.0.0/0"
    lifetime = shown.expiry_time.ToDatetime() - shown.creation_time.ToDatetime()
    assert lifetime.total_seconds() == 4 * 3600


async def test_listing_pages_newest_first_and_filters_by_name(kairos: Kairos) -> None:
    ids = [(await create(kairos, instance_name=f"n{i % 2}")).activation_id for i in range(5)]
    first = await describe(kairos, max_results=2)
    assert first.total_count == 5
    assert [a.activation_id for a in first.activations] == ids[::-1][:2]
    seen = [a.activation_id for a in first.activations]
    token = first.next_token
    while token:
        page = await describe(kairos, max_results=2, next_token=token)
        seen += [a.activation_id for a in page.activations]
        token = page.next_token
    assert seen == ids[::-1]
    named = await describe(kairos, instance_name="n1")
    assert sorted(a.activation_id for a in named.activations) == sorted(ids[1::2])


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"instance_count": 0}, "instance_count", RefusalCode.INVALID_PARAM_INSTANCE_COUNT),
        ({"instance_count": 1001}, "instance_count", RefusalCode.INVALID_PARAM_INSTANCE_COUNT),
        (
            {"time_to_live_in_hours": 876_001},
            "time_to_live_in_hours",
            RefusalCode.INVALID_PARAM_TIME_TO_LIVE_IN_HOURS,
        ),
        (
            {"ip_address_range": "300.0.0.0/8"},
            "ip_address_range",
            RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE,
        ),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(
    kairos: Kairos, fields: dict[str, object], field: str, code: RefusalCode
) -> None:
    refusal = await refused(create(kairos, **fields))
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == code.value
    assert [f for f, _ in violations(refusal)] == [field]


@pytest.mark.parametrize(
    ("ip_address_range", "rule"),
    [
        # PostgreSQL's cidr has no zone: stored, every Register with it was INTERNAL.
        ("fe80::%eth0/64", "without a zone (an IPv6 %interface suffix)"),
        # ... and a long one did not fit the column: CreateActivation itself was INTERNAL.
        (f"fe80::%{'z' * 80}/64", "give fe80::/64"),
        # A caller over IPv4 is checked by its IPv4 address: this admitted nobody.
        ("::ffff:127.0.0.0/104", "not be an IPv4-mapped IPv6 network"),
        ("::ffff:10.0.0.5/128", "give 10.0.0.5/32"),
    ],
)
async def test_a_range_no_caller_can_be_checked_against_is_refused(
    kairos: Kairos, ip_address_range: str, rule: str
) -> None:
    refusal = await refused(create(kairos, ip_address_range=ip_address_range))
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE.value
    [(field, message)] = violations(refusal)
    assert field == "ip_address_range"
    assert rule in message
    assert (await describe(kairos)).total_count == 0


async def test_the_longest_range_is_stored_and_checked(kairos: Kairos) -> None:
    longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"  # 43 characters, canonical
    created = await create(kairos, ip_address_range=longest)
    [shown] = (await describe(kairos, activation_id=created.activation_id)).activations
    assert shown.ip_address_range == longest
    issued = Issued(created.activation_id, created.activation_code)
    (await refused(register(kairos.address, issued))).assert_code(
        grpc.StatusCode.PERMISSION_DENIED,
        RefusalCode.INVALID_ACTIVATION_IP_ADDRESS_RANGE,
        f"the caller's address 127.0.0.1 is outside the activation's IP address range {longest}",
    )


async def test_disable_and_delete(kairos: Kairos) -> None:
    unused = await create(kairos)
    await kairos.activations.DeleteActivation(
        activation_pb2.DeleteActivationRequest(activation_id=unused.activation_id)
    )
    assert (await describe(kairos)).total_count == 0
    kept = await create(kairos)
    await kairos.activations.DisableActivation(
        activation_pb2.DisableActivationRequest(activation_id=kept.activation_id)
    )
    [shown] = (await describe(kairos)).activations
    assert shown.disabled
    for call in (
        kairos.activations.DisableActivation(
            activation_pb2.DisableActivationRequest(activation_id="act-nope")
        ),
        kairos.activations.DeleteActivation(
            activation_pb2.DeleteActivationRequest(activation_id="act-nope")
        ),
    ):
        (await refused(call)).assert_code(
            grpc.StatusCode.NOT_FOUND,
            RefusalCode.INVALID_ACTIVATION_ID_NOT_FOUND,
            "activation act-nope not found",
        )
    missing = await refused(
        kairos.activations.DisableActivation(activation_pb2.DisableActivationRequest())
    )
    assert missing.status == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(missing) == [("activation_id", "activation_id is required")]


async def test_deregistering_an_unknown_instance_is_not_found(kairos: Kairos) -> None:
    refusal = await refused(
        kairos.activations.DeregisterManagedInstance(
            activation_pb2.DeregisterManagedInstanceRequest(instance_id="mi-nope")
        )
    )
    refusal.assert_code(
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_INSTANCE_NOT_FOUND,
        "instance mi-nope is no registered managed instance of the account",
    )


async def test_activations_belong_to_their_account(servers: ServerFactory, tmp_path: Path) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    created = await create(a)
    assert (await describe(b)).total_count == 0
    refusal = await refused(
        b.activations.DisableActivation(
            activation_pb2.DisableActivationRequest(activation_id=created.activation_id),
            metadata=b.metadata,
        )
    )
    assert refusal.status == grpc.StatusCode.NOT_FOUND
    agent = connect(address, "agent-a")
    refusal = await refused(create(agent))
    assert refusal.status == grpc.StatusCode.PERMISSION_DENIED
    await a.channel.close()
    await b.channel.close()
    await agent.channel.close()
