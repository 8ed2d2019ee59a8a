"""Selector membership: instances whose tags changed join or leave the periodic and boot
invocations by selector, in the transaction that changed the tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import ResourceType
from scheduler.domain.selectors import SelectorInvocation, membership_moves
from scheduler.domain.status import StatusChange, TargetKey
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import instances as instance_store
from scheduler.store import notices
from scheduler.store import selectors as store
from scheduler.store import tags as tag_store


class Membership:
    """The targets a transaction's membership changes touched, for its one
    ``invocations_changed`` (``targets`` re-derived, ``created`` counted)."""

    def __init__(self) -> None:
        self.targets: list[TargetKey] = []
        self.created: dict[TargetKey, StatusChange] = {}


async def instances_retagged(conn: AsyncConnection, retagged: Iterable[InstanceKey]) -> Membership:
    """These instances' tags changed (or they are new): make them join the selector
    invocations they now match and leave those they no longer match.

    The statements do not grow with the instances: per tenant, its live selector
    invocations, the instances with their tags, their targets (locked) and the moves.
    """
    by_tenant: dict[Tenant, set[str]] = defaultdict(set)
    for key in retagged:
        by_tenant[key.tenant].add(key.instance_id)
    membership = Membership()
    if not by_tenant:
        return membership
    await store.lock_for_tag_changes(conn, list(by_tenant))
    for tenant in sorted(by_tenant, key=lambda t: (t.account_id, t.region_id)):
        invocations = await store.live_selector_invocations(conn, tenant)
        await _move(conn, tenant, invocations, sorted(by_tenant[tenant]), membership)
    return membership


async def invocation_reselected(
    conn: AsyncConnection,
    tenant: Tenant,
    invocation: SelectorInvocation,
    instance_ids: Iterable[str],
) -> Membership:
    """This invocation's selector (or settings) changed: among these instances (its
    members and those its selector matches now), those that match join it, planned by
    its settings, and those that no longer match leave. The caller holds the tenant's
    creation lock (``store.selectors.lock_for_creation``) and the invocation's targets."""
    membership = Membership()
    await _move(conn, tenant, [invocation], sorted(set(instance_ids)), membership)
    return membership


async def _move(
    conn: AsyncConnection,
    tenant: Tenant,
    invocations: list[SelectorInvocation],
    ids: list[str],
    membership: Membership,
) -> None:
    """Make these invocations' targets among the instances ``ids`` exactly the matching
    ones, adding what moved to ``membership``."""
    if not invocations or not ids:
        return
    found, now = await instance_store.get_instances(conn, tenant, ids)
    tags = await tag_store.tags_by_resource(conn, tenant, ResourceType.INSTANCE, ids)
    members = await store.members(conn, [(i.id, x) for i in invocations for x in ids])
    moves = membership_moves(
        invocations, [found[x] for x in ids if x in found], tags, members, now=now
    )
    targets, created = await store.apply_moves(conn, tenant, moves.armed, moves.left)
    membership.targets += targets
    membership.created |= created
    for invoke_id in sorted({a.invocation_id for a in moves.armed}):
        await notices.send(conn, notices.schedules_changed(invoke_id))
