"""AgentService.Register with a registration id: a retry of one registration (its response
lost, or the agent restarted before it kept the credential) is the same instance, with a
new credential, and takes no count; the activation's rules still hold for it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from kairos.v1 import activation_pb2, agent_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos
from scheduler.store.tables import activations
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.locks import row_held, until_blocked
from tests.service.managed import Issued, activate, describe, expire, register
from tests.service.refusals import refused

REGISTRATION = "reg-0123456789abcdef"


async def says_hello(address: str, registered: agent_pb2.RegisterResponse) -> bool:
    """Whether the registration's credential connects as its instance (False: refused
    UNAUTHENTICATED, as an unknown or deregistered credential is)."""
    peer = Peer(address, registered.instance_id, token=registered.credential)
    try:
        await peer.hello()
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        return False
    finally:
        await peer.close()
    return True


async def test_a_retried_registration_is_the_same_instance_with_a_new_credential(
    kairos: Kairos,
) -> None:
    issued = await activate(kairos, instance_count=1, instance_name="web")
    first = await register(kairos.address, issued, registration_id=REGISTRATION)
    # The response lost: the agent asks again. The count is 1, so a second instance
    # would have been refused RESOURCE_EXHAUSTED.
    again = await register(kairos.address, issued, registration_id=REGISTRATION)
    assert (again.instance_id, again.instance_name) == (first.instance_id, "web")
    assert again.credential != first.credential
    assert (await describe(kairos, issued.activation_id)).registered_count == 1
    assert not await says_hello(kairos.address, first)
    assert await says_hello(kairos.address, again)


async def test_different_registration_ids_are_different_instances(kairos: Kairos) -> None:
    issued = await activate(kairos, instance_count=3)
    one = await register(kairos.address, issued, registration_id="reg-1")
    other = await register(kairos.address, issued, registration_id="reg-2")
    unnamed = await register(kairos.address, issued)  # an older agent: none
    assert len({one.instance_id, other.instance_id, unnamed.instance_id}) == 3
    # The count is used up; each id's retry is still its own instance.
    assert (await register(kairos.address, issued, registration_id="reg-2")).instance_id == (
        other.instance_id
    )
    assert (await describe(kairos, issued.activation_id)).registered_count == 3
    # The same id with another activation is another registration.
    elsewhere = await register(kairos.address, await activate(kairos), registration_id="reg-1")
    assert elsewhere.instance_id != one.instance_id


async def test_a_retry_is_held_to_the_code_and_the_activations_rules(
    kairos: Kairos, servers: ServerFactory
) -> None:
    issued = await activate(kairos, instance_count=1)
    first = await register(kairos.address, issued, registration_id=REGISTRATION)
    (
        await refused(register(kairos.address, issued, code="wrong", registration_id=REGISTRATION))
    ).assert_code(
        grpc.StatusCode.UNAUTHENTICATED,
        RefusalCode.INVALID_ACTIVATION_CODE,
        "wrong activation id or activation code",
    )
    # Refused, the retry changed nothing: the first credential still speaks for it.
    assert await says_hello(kairos.address, first)
    again = await register(kairos.address, issued, registration_id=REGISTRATION)
    assert again.instance_id == first.instance_id
    await expire(servers.url, issued.activation_id)
    (await refused(register(kairos.address, issued, registration_id=REGISTRATION))).assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_ACTIVATION_EXPIRED,
        "the activation has expired",
    )
    assert await says_hello(kairos.address, again)
    assert (await describe(kairos, issued.activation_id)).registered_count == 1


async def test_a_retry_with_a_disabled_activation_is_refused(
    kairos: Kairos,
) -> None:
    issued = await activate(kairos, instance_count=1)
    first = await register(kairos.address, issued, registration_id=REGISTRATION)
    again = await register(kairos.address, issued, registration_id=REGISTRATION)
    assert again.instance_id == first.instance_id
    await kairos.activations.DisableActivation(
        activation_pb2.DisableActivationRequest(activation_id=issued.activation_id),
        metadata=kairos.metadata,
    )
    (await refused(register(kairos.address, issued, registration_id=REGISTRATION))).assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_ACTIVATION_DISABLED,
        "the activation is disabled",
    )


async def test_a_retry_after_the_instance_was_deregistered_is_refused(kairos: Kairos) -> None:
    issued = await activate(kairos, instance_count=2)
    first = await register(kairos.address, issued, registration_id=REGISTRATION)
    await kairos.activations.DeregisterManagedInstance(
        activation_pb2.DeregisterManagedInstanceRequest(instance_id=first.instance_id),
        metadata=kairos.metadata,
    )
    (await refused(register(kairos.address, issued, registration_id=REGISTRATION))).assert_code(
        grpc.StatusCode.UNAUTHENTICATED,
        RefusalCode.UNAUTHENTICATED,
        f"the managed instance {first.instance_id} this registration_id registered was "
        "deregistered; register with a new registration_id",
    )
    shown = await describe(kairos, issued.activation_id)
    assert (shown.registered_count, shown.deregistered_count) == (1, 1)
    assert not await says_hello(kairos.address, first)


async def test_two_identical_registrations_at_once_make_one_instance(
    kairos: Kairos, servers: ServerFactory
) -> None:
    issued = await activate(kairos, instance_count=2)
    # Both wait on the activation's row, so that both are in flight together whatever
    # the timing; released, one makes the instance and the other returns it.
    async with row_held(servers.url, activations, issued.activation_id):
        both = asyncio.gather(
            *(register(kairos.address, issued, registration_id=REGISTRATION) for _ in range(2))
        )
        await until_blocked(servers.url, waiting=2)
    one, other = await both
    assert one.instance_id == other.instance_id
    assert (await describe(kairos, issued.activation_id)).registered_count == 1
    # The later one's credential replaced the earlier's: exactly one connects.
    assert sorted([await says_hello(kairos.address, r) for r in (one, other)]) == [False, True]


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "tab\there", "é"])
async def test_a_malformed_registration_id_is_invalid_argument(kairos: Kairos, bad: str) -> None:
    issued: Issued = await activate(kairos, instance_count=1)
    refusal = await refused(register(kairos.address, issued, registration_id=bad))
    refusal.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_REGISTRATION_ID,
        "registration_id must be at most 64 printable ASCII characters",
    )
    assert refusal.bad_request is not None
    assert [v.field for v in refusal.bad_request.field_violations] == ["registration_id"]
    assert (await describe(kairos, issued.activation_id)).registered_count == 0
