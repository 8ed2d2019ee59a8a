"""Schedule control: PauseInvocation, ResumeInvocation, ModifyInvocation, TriggerInvocation.

Each is one transaction that first locks the invocation (its targets, then its row:
``store.control.lock``), so it waits for a ticker round or a boot holding them, and
the next claim sees what it did. Next fires are planned by ``domain.invocation``'s
``next_fires``/``plan_targets``, the functions that plan them at creation; a trigger
is one fire made by ``operations.firing.fire``, as the ticker's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import RefusalCode
from scheduler.domain.control import (
    ModifyRequest,
    check_controllable,
    check_modify_request,
    check_retargeting,
    modify,
)
from scheduler.domain.enums import RepeatMode
from scheduler.domain.errors import invalid, not_found, precondition
from scheduler.domain.invocation import (
    check_targets,
    next_fires,
    plan_executions,
    plan_targets,
)
from scheduler.domain.limits import check_instance_ids, require_id
from scheduler.domain.selectors import SelectorInvocation, check_selected
from scheduler.domain.status import StatusChange, TargetKey
from scheduler.domain.tenancy import Tenant
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.operations.firing import Fired, count, fire, unscheduled_round
from scheduler.operations.selectors import Membership, invocation_reselected
from scheduler.store import control as store
from scheduler.store import instances as instance_store
from scheduler.store import notices
from scheduler.store import selectors as selector_store
from scheduler.store import targets as target_store
from scheduler.store.clock import database_clock, database_now
from scheduler.store.control import Controlled


@dataclass(frozen=True, kw_only=True)
class Triggered:
    """What a TriggerInvocation did."""

    fired: list[str]
    """The instances the fire created an execution on."""
    busy: list[str]
    """The instances skipped: their previous run still goes on (counted as overlap skips)."""
    scheduled_at: datetime


async def pause_invocation(ctx: Context, tenant: Tenant, invoke_id: str) -> None:
    """Pause a periodic or boot invocation: its fires are skipped (and counted) until it is
    resumed. Pausing a paused invocation changes nothing."""
    require_id("invoke_id", invoke_id)

    async def pause(conn: AsyncConnection) -> None:
        invocation = await _locked(conn, tenant, invoke_id, "paused")
        if not invocation.paused:
            await store.set_paused(conn, invoke_id, True)

    await ctx.transaction(pause)


async def resume_invocation(ctx: Context, tenant: Tenant, invoke_id: str) -> None:
    """Resume a paused invocation at its next fire after now: what it skipped is not made up.
    Resuming an invocation that is not paused changes nothing."""
    require_id("invoke_id", invoke_id)

    async def resume(conn: AsyncConnection) -> None:
        invocation = await _locked(conn, tenant, invoke_id, "resumed")
        if not invocation.paused:
            return
        await store.set_paused(conn, invoke_id, False)
        # The ticker moved the targets on while paused, but none may have run meanwhile:
        # each is planned again from now, so nothing missed fires on resume.
        await _replan(conn, tenant, invocation, invocation.armed_ids())

    await ctx.transaction(resume)


async def modify_invocation(
    ctx: Context, tenant: Tenant, invoke_id: str, request: ModifyRequest
) -> None:
    """Change a periodic or boot invocation's schedule, parameters, timeout, script,
    instances or selector; the next fires are planned again at once and the history stays.

    A new selector (or schedule) recomputes an invocation by selector's membership in the
    same transaction, under the tenant's selector lock taken first as a creation takes it
    (``store.selectors``): a tag change in flight is waited for, and one after it sees
    the new selector and schedule.
    """
    require_id("invoke_id", invoke_id)
    request = check_modify_request(ctx.limits, request)

    async def change(conn: AsyncConnection) -> None:
        if request.resource_tags is not None or request.frequency is not None:
            await selector_store.lock_for_creation(conn, tenant)
        invocation = await _locked(conn, tenant, invoke_id, "modified")
        check_retargeting(invoke_id, request, by_selector=invocation.selector is not None)
        modified = modify(
            ctx.limits,
            invocation.settings,
            invocation.command,
            request,
            created_at=invocation.created_at,
        )
        unknown = [i for i in request.remove_instance_ids if i not in invocation.armed]
        if unknown:
            raise not_found(
                RefusalCode.INVALID_INSTANCE_NOT_FOUND,
                f"invocation {invoke_id} has no instances {', '.join(unknown)}",
            )
        removed = set(request.remove_instance_ids)
        staying = [i for i in invocation.armed_ids() if i not in removed]
        added = [i for i in request.add_instance_ids if i not in staying]
        armed = staying + added
        if not armed and invocation.selector is None:
            raise invalid(
                RefusalCode.INVALID_PARAM_INSTANCE_ID,
                "remove_instance_ids",
                f"removing {', '.join(sorted(removed))} would leave invocation {invoke_id} no "
                "armed instance: stop it instead (StopInvocation)",
            )
        if added and len(armed) > ctx.limits.max_instances_per_call:
            raise invalid(
                RefusalCode.INVALID_PARAM_INSTANCE_ID,
                "add_instance_ids",
                f"the invocation would have {len(armed)} armed instances; the limit is "
                f"{ctx.limits.max_instances_per_call}",
            )
        selector = None
        if request.resource_tags is not None:
            selector = {t.key: t.value for t in request.resource_tags}
        matched = await _matched(conn, ctx, tenant, selector)
        # The instances a new selector takes in are checked and rendered as the armed ones.
        checked = armed + [i for i in matched if i not in armed]
        found, now = await instance_store.get_instances(conn, tenant, checked)
        instances = check_targets(checked, found, now=now, limits=ctx.limits, require_online=False)
        # Rendered now, as at creation: a script too long once its parameters are
        # substituted is refused before anything changes.
        plan_executions(
            command=modified.command,
            settings=modified.settings,
            targets=instances,
            tenant=tenant,
            invoke_id=invoke_id,
            content_limit=ctx.limits.max_unsaved_content,
            new_id=lambda: "",
        )
        planned = plan_targets(
            modified.settings,
            [found[i] for i in (armed if modified.replan else added)],
            invoke_id=invoke_id,
            # Not the transaction's start: the targets' locks may have waited for a fire.
            now=await database_clock(conn),
            created_at=invocation.created_at,
        )
        await store.modify(conn, invoke_id, modified.settings, modified.command, selector)
        await store.disarm(conn, invoke_id, sorted(removed))
        await store.arm(conn, tenant, invocation, planned)
        membership = Membership()
        if selector is not None:
            reselected = SelectorInvocation(
                id=invoke_id,
                selector=selector,
                settings=modified.settings,
                created_at=invocation.created_at,
            )
            membership = await invocation_reselected(conn, tenant, reselected, checked)
        await _changed(
            conn,
            invoke_id,
            [
                *removed,
                *(p.instance_id for p in planned),
                *(k.instance_id for k in membership.targets),
            ],
            created=membership.created,
        )

    await ctx.transaction(change)


async def _matched(
    conn: AsyncConnection, ctx: Context, tenant: Tenant, selector: dict[str, str] | None
) -> list[str]:
    """The instances a new selector matches now, refused as at creation when they are more
    than ``--max-instances-per-selector``; none when no selector is given."""
    if selector is None:
        return []
    limit = ctx.limits.max_instances_per_selector
    matched = await selector_store.matching_instances(conn, tenant, selector, limit + 1)
    check_selected(len(matched), limit=limit, immediate=False, selector=selector)
    return matched


async def trigger_invocation(
    ctx: Context, tenant: Tenant, invoke_id: str, instance_ids: list[str]
) -> Triggered:
    """Fire a periodic or boot invocation once now on some (or all) of its armed instances,
    outside its schedule: their next scheduled fires stay where they were."""
    require_id("invoke_id", invoke_id)
    requested = check_instance_ids(ctx.limits, instance_ids, required=False)

    async def trigger(conn: AsyncConnection) -> tuple[Fired, Triggered]:
        invocation = await _locked(conn, tenant, invoke_id, "triggered")
        unknown = [i for i in requested if i not in invocation.armed]
        if unknown:
            raise not_found(
                RefusalCode.INVALID_INSTANCE_NOT_FOUND,
                f"invocation {invoke_id} has no instances {', '.join(unknown)}",
            )
        disarmed = [i for i in requested if not invocation.armed[i]]
        if disarmed:
            raise precondition(
                RefusalCode.INVALID_INSTANCE_NOT_ARMED,
                f"invocation {invoke_id} is no longer armed on instances {', '.join(disarmed)}",
            )
        targets = await target_store.lock_armed(conn, invoke_id, requested)
        if not targets:
            # Only an invocation by selector is controllable with no armed target.
            raise not_found(
                RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND,
                f"invocation {invoke_id} has no armed instance: no instance matches its "
                "selector (resource_tags) now",
            )
        now = await database_now(conn)
        busy = await target_store.busy(conn, [TargetKey(invoke_id, t.instance.id) for t in targets])
        round_ = unscheduled_round(targets, now, busy=busy)
        fired = await fire(conn, ctx.limits, round_, now.date(), trigger="trigger")
        return fired, Triggered(
            fired=[f.target.instance.id for f in round_.fires],
            busy=sorted(k.instance_id for k in busy),
            scheduled_at=now,
        )

    fired, triggered = await ctx.transaction(trigger)
    count(fired)
    return triggered


async def _locked(
    conn: AsyncConnection, tenant: Tenant, invoke_id: str, operation: str
) -> Controlled:
    """The invocation, locked; refused when it is missing or cannot be controlled."""
    invocation = await store.lock(conn, tenant, invoke_id)
    if invocation is None:
        raise not_found(
            RefusalCode.INVALID_INVOKE_ID_NOT_FOUND, f"invocation {invoke_id} not found"
        )
    check_controllable(
        invoke_id,
        invocation.repeat_mode,
        len(invocation.armed_ids()),
        operation=operation,
        by_selector=invocation.selector is not None,
        stopped=invocation.stopped,
    )
    return invocation


async def _replan(
    conn: AsyncConnection, tenant: Tenant, invocation: Controlled, instance_ids: list[str]
) -> None:
    """Plan these armed periodic targets' next fires again from now; a target whose
    schedule has no fire left is disarmed, as the ticker would. Boot triggers have no
    next fire to plan."""
    if invocation.repeat_mode is not RepeatMode.PERIOD:
        return
    found, _ = await instance_store.get_instances(conn, tenant, instance_ids)
    # A deregistered instance is not found any more: its target fires no more.
    await store.disarm(conn, invocation.id, [i for i in instance_ids if i not in found])
    planned = next_fires(
        invocation.settings,
        [found[i] for i in instance_ids if i in found],
        invoke_id=invocation.id,
        # Not the transaction's start: the targets' locks may have waited for a fire
        # (or a paused skip), whose instant must not be planned again.
        now=await database_clock(conn),
        created_at=invocation.created_at,
    )
    await store.disarm(conn, invocation.id, [p.instance_id for p in planned if not p.next_fire_at])
    await store.arm(conn, tenant, invocation, [p for p in planned if p.next_fire_at])
    await _changed(conn, invocation.id, instance_ids)


async def _changed(
    conn: AsyncConnection,
    invoke_id: str,
    instance_ids: Sequence[str],
    *,
    created: Mapping[TargetKey, StatusChange] | None = None,
) -> None:
    """Refresh the targets a control call armed or disarmed (and those a selector made:
    ``created``), and wake the tickers."""
    await notices.send(conn, notices.schedules_changed(invoke_id))
    targets = [TargetKey(invoke_id, i) for i in instance_ids]
    await invocations_changed(conn, [*targets, *(created or {})], derived=created)
