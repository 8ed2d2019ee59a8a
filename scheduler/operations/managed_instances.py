"""Managed instances: registered with an activation, deregistered by an operator."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import ids
from scheduler.domain.activations import MAX_HOSTNAME, check_registration_id, refusal
from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import digest, new_credential
from scheduler.domain.delivery import deregistered
from scheduler.domain.enums import Role
from scheduler.domain.errors import ErrorKind, KairosError, not_found
from scheduler.domain.limits import check_length, require_id
from scheduler.domain.tenancy import Caller, InstanceKey, Tenant
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.store import activations as activation_store
from scheduler.store import credentials as credential_store
from scheduler.store import lost as lost_store
from scheduler.store import notices
from scheduler.store import tags as tag_store
from scheduler.store import targets as target_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Registered:
    """A newly registered managed instance and its credential, which is sent this once."""

    instance: InstanceKey
    name: str
    credential: str = field(repr=False)
    replayed: bool = False
    """Registered before with the same registration id: no new instance, no count taken."""


async def register(
    ctx: Context,
    activation_id: str,
    code: str,
    *,
    hostname: str,
    address: str | None,
    registration_id: str = "",
) -> Registered:
    """Register a machine calling from ``address`` with an activation: one count taken by
    one conditional statement, or the refusal saying why (``domain.activations.refusal``).

    A ``registration_id`` that registered an instance with the activation already (the
    agent retrying a call whose response it never got) returns that instance with a new
    credential and takes no count; the code and the other rules are checked as ever."""
    require_id("activation_id", activation_id)
    require_id("activation_code", code)
    check_length(RefusalCode.INVALID_PARAM_HOSTNAME, "hostname", hostname, MAX_HOSTNAME)
    check_registration_id(registration_id)
    credential = new_credential()

    async def apply(conn: AsyncConnection) -> Registered:
        if registration_id:
            earlier = await _registered_before(
                conn, activation_id, code, address, registration_id, digest(credential)
            )
            if earlier is not None:
                instance, name = earlier
                return Registered(
                    instance=instance, name=name, credential=credential, replayed=True
                )
        taken = await activation_store.take_registration(conn, activation_id, digest(code), address)
        if taken is None:
            raise refusal(await activation_store.gate(conn, activation_id), code, address)
        tenant, name = taken
        instance = InstanceKey(tenant, ids.managed_instance_id())
        await credential_store.insert_credential(
            conn,
            instance,
            activation_id=activation_id,
            credential_hash=digest(credential),
            hostname=hostname,
            registration_id=registration_id or None,
        )
        return Registered(instance=instance, name=name, credential=credential)

    registered = await ctx.transaction(apply)
    log.info(
        "managed instance %s with activation %s",
        "registered again (a retry)" if registered.replayed else "registered",
        activation_id,
        extra={"instance_id": registered.instance.instance_id},
    )
    return registered


async def _registered_before(
    conn: AsyncConnection,
    activation_id: str,
    code: str,
    address: str | None,
    registration_id: str,
    credential_hash: str,
) -> tuple[InstanceKey, str] | None:
    """The instance and name ``registration_id`` registered with the activation before, its
    credential now the one of ``credential_hash``; None when it registered none.

    Held to every rule of a registration but the count. The activation's row is locked
    first, as taking a count locks it: an identical Register still in flight commits its
    instance before this looks for it, so the two make one instance, not a unique
    violation (``uq_instance_credentials_registration``)."""
    admitted = await activation_store.admit(conn, activation_id, digest(code), address)
    if admitted is None:
        raise refusal(await activation_store.gate(conn, activation_id), code, address)
    earlier = await credential_store.replace_credential(
        conn, activation_id, registration_id, credential_hash
    )
    if earlier is None:
        return None
    if earlier.deregistered:
        # As its credential is: a deregistered instance is gone for good, and a retry
        # must not bring it back, nor make a new instance under the same registration.
        raise KairosError(
            kind=ErrorKind.UNAUTHENTICATED,
            code=RefusalCode.UNAUTHENTICATED,
            message=f"the managed instance {earlier.instance.instance_id} this registration_id "
            "registered was deregistered; register with a new registration_id",
        )
    _, name = admitted
    return earlier.instance, name


async def credential_caller(ctx: Context, credential: str) -> Caller | KairosError:
    """The agent an instance credential speaks for, or UNAUTHENTICATED (unknown, or
    deregistered): one indexed read by the credential's hash, one round trip."""
    owner = await ctx.read_alone(lambda conn: credential_store.owner(conn, digest(credential)))
    if owner is None:
        return KairosError(
            kind=ErrorKind.UNAUTHENTICATED,
            code=RefusalCode.UNAUTHENTICATED,
            message="unknown or deregistered instance credential",
        )
    return Caller(owner.tenant, frozenset({Role.AGENT}), owner.instance_id)


async def deregister(ctx: Context, tenant: Tenant, instance_id: str) -> None:
    """Refuse the managed instance's credential from now on, end its future fires and its
    open executions (``Error``/``InstanceDeregistered``), forget its tags and tell the
    dispatchers to close its stream. The instance is gone for good: no invocation, tag or
    selector can reach it again (``store.credentials.not_deregistered``)."""
    require_id("instance_id", instance_id)
    instance = InstanceKey(tenant, instance_id)

    async def apply(conn: AsyncConnection) -> tuple[int, int]:
        activation_id = await credential_store.deregister(conn, instance)
        if activation_id is None:
            raise not_found(
                RefusalCode.INVALID_INSTANCE_NOT_FOUND,
                f"instance {instance_id} is no registered managed instance of the account",
            )
        await activation_store.count_deregistered(conn, activation_id)
        # Targets before executions, as a stop takes them: a fire in progress on the
        # instance finishes first, and its execution is ended below with the others.
        disarmed = await target_store.disarm_instance(conn, instance)
        ended = await lost_store.end_open(conn, instance, deregistered())
        await tag_store.forget_instance(conn, instance)
        if disarmed or ended:
            await invocations_changed(conn, sorted({*disarmed, *ended}))
        await notices.send(conn, notices.deregistered(instance))
        return len(disarmed), len(ended)

    disarmed, ended = await ctx.transaction(apply)
    log.info(
        "managed instance deregistered; %d targets disarmed, %d open executions ended",
        disarmed,
        ended,
        extra={"instance_id": instance_id},
    )


async def deregistered_among(ctx: Context, instances: list[InstanceKey]) -> set[InstanceKey]:
    """Which of these instances were deregistered (for a dispatcher that may have missed
    the notices)."""
    if not instances:
        return set()
    return await ctx.transaction(lambda conn: credential_store.deregistered_among(conn, instances))
