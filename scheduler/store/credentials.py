"""Managed instances' credentials: stored as hashes, looked up on every agent connect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.tables import (
    instance_columns,
    instance_credentials,
    instances,
    on_instances,
    on_one_instance,
    one_instance,
)

_INSERT = insert(instance_credentials)


def not_deregistered(instance: FromClause) -> ColumnElement[bool]:
    """Rows of ``instances`` (or a table of its key) that no operator deregistered: a
    deregistered managed instance is gone for good (its credential refused, and an ``mi-``
    id is never made twice), so nothing may target or tag it any more."""
    return ~(
        select(instance_credentials.c.instance_id)
        .where(
            instance_credentials.c.account_id == instance.c.account_id,
            instance_credentials.c.region_id == instance.c.region_id,
            instance_credentials.c.instance_id == instance.c.id,
            instance_credentials.c.deregistered_at.is_not(None),
        )
        .exists()
    )


# By the unique index on the hash: one lookup per connect, whatever the number of instances.
_OWNER = select(
    instance_credentials.c.account_id,
    instance_credentials.c.region_id,
    instance_credentials.c.instance_id,
).where(
    instance_credentials.c.credential_hash == bindparam("credential_hash"),
    instance_credentials.c.deregistered_at.is_(None),
)

# The instance's row, as a tag change (``tags.existing``) or a Hello takes it: whatever
# they are doing to the instance (joining selectors, arming boot targets) commits first,
# so the deregistration's own statements see it and undo it.
_LOCK_INSTANCE = (
    select(instances.c.id)
    .where(
        instances.c.account_id == bindparam("of_account"),
        instances.c.region_id == bindparam("of_region"),
        instances.c.id == bindparam("of_instance"),
    )
    .with_for_update(key_share=True)
)

_DEREGISTER = (
    update(instance_credentials)
    .where(on_one_instance(instance_credentials), instance_credentials.c.deregistered_at.is_(None))
    .values(deregistered_at=func.now())
    .returning(instance_credentials.c.activation_id)
)


async def insert_credential(
    conn: AsyncConnection,
    instance: InstanceKey,
    *,
    activation_id: str,
    credential_hash: str,
    hostname: str,
    registration_id: str | None,
) -> None:
    """Store a newly registered instance's credential (its hash) and the agent's id of the
    registration (None: the agent sent none)."""
    await conn.execute(
        _INSERT,
        {
            "account_id": instance.tenant.account_id,
            "region_id": instance.tenant.region_id,
            "instance_id": instance.instance_id,
            "activation_id": activation_id,
            "credential_hash": credential_hash,
            "hostname": hostname,
            "registration_id": registration_id,
        },
    )


@dataclass(frozen=True)
class Earlier:
    """The instance an earlier Register with the same registration id made."""

    instance: InstanceKey
    deregistered: bool


# By ``uq_instance_credentials_registration``. A deregistered instance's new hash is
# refused as its old one was (``_OWNER``), and the refusal rolls it back anyway.
_REPLACE = (
    update(instance_credentials)
    .where(
        instance_credentials.c.activation_id == bindparam("of_activation"),
        instance_credentials.c.registration_id == bindparam("of_registration"),
    )
    .values(credential_hash=bindparam("new_hash"))
    .returning(
        instance_credentials.c.account_id,
        instance_credentials.c.region_id,
        instance_credentials.c.instance_id,
        instance_credentials.c.deregistered_at.is_not(None).label("deregistered"),
    )
)


async def replace_credential(
    conn: AsyncConnection, activation_id: str, registration_id: str, credential_hash: str
) -> Earlier | None:
    """Give the instance this registration made already (if any) a credential of this hash
    instead of its own: the response that carried that one may never have arrived."""
    row = (
        await conn.execute(
            _REPLACE,
            {
                "of_activation": activation_id,
                "of_registration": registration_id,
                "new_hash": credential_hash,
            },
        )
    ).first()
    if row is None:
        return None
    return Earlier(
        InstanceKey(Tenant(row.account_id, row.region_id), row.instance_id), row.deregistered
    )


async def owner(conn: AsyncConnection, credential_hash: str) -> InstanceKey | None:
    """The registered (not deregistered) instance whose credential has this hash."""
    row = (await conn.execute(_OWNER, {"credential_hash": credential_hash})).first()
    if row is None:
        return None
    return InstanceKey(Tenant(row.account_id, row.region_id), row.instance_id)


async def deregister(conn: AsyncConnection, instance: InstanceKey) -> str | None:
    """Refuse the instance's credential from now on; its activation's id, or None when
    the tenant has no such registered instance (or it was deregistered already)."""
    await conn.execute(_LOCK_INSTANCE, one_instance(instance))
    row = (await conn.execute(_DEREGISTER, one_instance(instance))).first()
    return None if row is None else str(row.activation_id)


_among = Unnested("among", account_id=Text(), region_id=Text(), instance_id=Text())
_DEREGISTERED_AMONG = select(
    instance_credentials.c.account_id,
    instance_credentials.c.region_id,
    instance_credentials.c.instance_id,
).where(
    on_instances(instance_credentials, _among.rows),
    instance_credentials.c.deregistered_at.is_not(None),
)


async def deregistered_among(
    conn: AsyncConnection, instances: Sequence[InstanceKey]
) -> set[InstanceKey]:
    """Which of these instances are deregistered managed instances: one statement."""
    rows = await conn.execute(_DEREGISTERED_AMONG, _among.bind(**instance_columns(instances)))
    return {InstanceKey(Tenant(r.account_id, r.region_id), r.instance_id) for r in rows}
