"""AgentService.Register: N registrations and no more, each refusal with its code, no secret
stored; the activation's counts follow."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import pytest

from agent.connection import Backoff
from agent.registration import Activation, RegistrationRefused
from agent.registration import register as agent_register
from kairos.v1 import activation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos, connect, free_port
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH
from tests.service.managed import activate, describe, every_row, expire, register
from tests.service.refusals import refused


async def test_n_registrations_succeed_and_the_next_is_refused(kairos: Kairos) -> None:
    issued = await activate(kairos, instance_count=3, instance_name="web")
    registered = [await register(kairos.address, issued) for _ in range(3)]
    ids = {r.instance_id for r in registered}
    assert len(ids) == 3
    assert all(i.startswith("mi-") and len(i) == 27 for i in ids)
    assert {r.instance_name for r in registered} == {"web"}
    assert len({r.credential for r in registered}) == 3
    refusal = await refused(register(kairos.address, issued))
    refusal.assert_code(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        RefusalCode.INVALID_ACTIVATION_COUNT_EXHAUSTED,
        "the activation registered its 3 instances already",
    )
    assert (await describe(kairos, issued.activation_id)).registered_count == 3


async def test_concurrent_registrations_never_pass_the_count(kairos: Kairos) -> None:
    issued = await activate(kairos, instance_count=5)
    outcomes = await asyncio.gather(
        *(register(kairos.address, issued) for _ in range(24)), return_exceptions=True
    )
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    refused_codes = {o.code() for o in outcomes if isinstance(o, grpc.aio.AioRpcError)}
    assert len(succeeded) == 5
    assert refused_codes == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert (await describe(kairos, issued.activation_id)).registered_count == 5


@pytest.mark.parametrize("wrong", ["wrong-code", ""])
async def test_a_wrong_code_is_unauthenticated_and_takes_nothing(
    kairos: Kairos, wrong: str
) -> None:
    issued = await activate(kairos, instance_count=1)
    refusal = await refused(register(kairos.address, issued, code=wrong or "x"))
    refusal.assert_code(
        grpc.StatusCode.UNAUTHENTICATED,
        RefusalCode.INVALID_ACTIVATION_CODE,
        "wrong activation id or activation code",
    )
    unknown = await refused(
        register(kairos.address, type(issued)("act-000000000000000000000000", issued.code))
    )
    assert unknown.status == grpc.StatusCode.UNAUTHENTICATED
    assert unknown.message == refusal.message  # an unknown id and a wrong code look alike
    assert (await describe(kairos, issued.activation_id)).registered_count == 0
    await register(kairos.address, issued)


async def test_a_disabled_or_expired_activation_is_a_failed_precondition(
    servers: ServerFactory,
) -> None:
    kairos = connect(await servers.start())
    disabled = await activate(kairos)
    await kairos.activations.DisableActivation(
        activation_pb2.DisableActivationRequest(activation_id=disabled.activation_id)
    )
    (await refused(register(kairos.address, disabled))).assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_ACTIVATION_DISABLED,
        "the activation is disabled",
    )
    expired = await activate(kairos)
    await register(kairos.address, expired)
    await expire(servers.url, expired.activation_id)
    (await refused(register(kairos.address, expired))).assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_ACTIVATION_EXPIRED,
        "the activation has expired",
    )
    assert (await describe(kairos, expired.activation_id)).registered_count == 1
    await kairos.channel.close()


async def test_a_caller_outside_the_range_is_permission_denied(kairos: Kairos) -> None:
    elsewhere = await activate(kairos, ip_address_range="10.0.0.0/8")
    (await refused(register(kairos.address, elsewhere))).assert_code(
        grpc.StatusCode.PERMISSION_DENIED,
        RefusalCode.INVALID_ACTIVATION_IP_ADDRESS_RANGE,
        "the caller's address 127.0.0.1 is outside the activation's IP address range 10.0.0.0/8",
    )
    ipv6 = await activate(kairos, ip_address_range="::1/128")
    assert (await refused(register(kairos.address, ipv6))).status == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert (await describe(kairos, elsewhere.activation_id)).registered_count == 0
    loopback = await activate(kairos, ip_address_range="127.0.0.0/8")
    await register(kairos.address, loopback)


def ipv6_loopback() -> bool:
    """Whether this machine can bind the IPv6 loopback (a container may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine cannot bind the IPv6 loopback ::1")
async def test_an_ipv6_caller_is_checked_against_an_ipv6_range(servers: ServerFactory) -> None:
    # gRPC reports an IPv6 peer percent-encoded (ipv6:%5B::1%5D:port); read as no
    # address, it kept every IPv6 machine out of every activation with a range.
    kairos = connect(await servers.start(host="[::1]"))
    inside = await activate(kairos, ip_address_range="::1/128")
    assert (await register(kairos.address, inside)).instance_id.startswith("mi-")
    elsewhere = await activate(kairos, ip_address_range="2001:db8::/32")
    (await refused(register(kairos.address, elsewhere))).assert_code(
        grpc.StatusCode.PERMISSION_DENIED,
        RefusalCode.INVALID_ACTIVATION_IP_ADDRESS_RANGE,
        "the caller's address ::1 is outside the activation's IP address range 2001:db8::/32",
    )
    assert (await describe(kairos, inside.activation_id)).registered_count == 1
    assert (await describe(kairos, elsewhere.activation_id)).registered_count == 0
    await kairos.channel.close()


async def test_the_tables_hold_no_plain_secret(kairos: Kairos, servers: ServerFactory) -> None:
    issued = await activate(kairos, instance_count=2)
    credentials = [(await register(kairos.address, issued)).credential for _ in range(2)]
    stored = await every_row(servers.url)
    assert issued.activation_id in stored  # the dump does show the rows
    for secret in (issued.code, *credentials):
        assert secret not in stored


async def test_registration_needs_no_token_and_counts_deregistrations(
    servers: ServerFactory, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth)
    a = connect(address, "client-a")
    issued = await activate(a, instance_count=2)
    registered = await register(address, issued)
    deregister = activation_pb2.DeregisterManagedInstanceRequest(instance_id=registered.instance_id)
    # Another account's operator cannot deregister it.
    b = connect(address, "client-b")
    assert (
        await refused(b.activations.DeregisterManagedInstance(deregister, metadata=b.metadata))
    ).status == grpc.StatusCode.NOT_FOUND
    in_use = await refused(
        a.activations.DeleteActivation(
            activation_pb2.DeleteActivationRequest(activation_id=issued.activation_id),
            metadata=a.metadata,
        )
    )
    assert in_use.status == grpc.StatusCode.FAILED_PRECONDITION
    assert in_use.info.reason == RefusalCode.INVALID_ACTIVATION_IN_USE.value
    await a.activations.DeregisterManagedInstance(deregister, metadata=a.metadata)
    shown = await describe(a, issued.activation_id)
    assert (shown.registered_count, shown.deregistered_count) == (1, 1)
    again = await refused(a.activations.DeregisterManagedInstance(deregister, metadata=a.metadata))
    assert again.status == grpc.StatusCode.NOT_FOUND
    await a.activations.DisableActivation(
        activation_pb2.DisableActivationRequest(activation_id=issued.activation_id),
        metadata=a.metadata,
    )
    await a.activations.DeleteActivation(
        activation_pb2.DeleteActivationRequest(activation_id=issued.activation_id),
        metadata=a.metadata,
    )
    for client in (a, b):
        await client.channel.close()


async def test_the_agent_registers_past_an_unreachable_server_and_stops_when_refused(
    kairos: Kairos,
) -> None:
    issued = await activate(kairos, instance_count=1, instance_name="db")
    down = f"127.0.0.1:{free_port()}"
    servers = (down, kairos.address)
    quick = Backoff(first=0.01, cap=0.05)
    kept = await agent_register(
        servers, Activation(activation_id=issued.activation_id, code=issued.code), backoff=quick
    )
    assert (kept.instance_id[:3], kept.instance_name) == ("mi-", "db")
    assert kept.credential not in repr(kept)
    with pytest.raises(RegistrationRefused) as raised:
        await agent_register(
            servers, Activation(activation_id=issued.activation_id, code="nope"), backoff=quick
        )
    assert str(raised.value) == (
        "UNAUTHENTICATED: InvalidActivation.Code: wrong activation id or activation code"
    )
