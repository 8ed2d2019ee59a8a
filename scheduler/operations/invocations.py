"""InvokeCommand, RunCommand, StopInvocation and the invocation queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import catalogue, ids
from scheduler.domain.codes import QuotaName, RefusalCode
from scheduler.domain.command import CommandRequest, new_command
from scheduler.domain.enums import InvocationStatus, RepeatMode, ResourceType
from scheduler.domain.errors import not_found, quota_exceeded
from scheduler.domain.files import FileTask, SendFileRequest, check_send_file, file_command
from scheduler.domain.invocation import (
    PlannedTarget,
    SettingsRequest,
    check_settings,
    check_targets,
    counts_against_quota,
    plan_executions,
    plan_targets,
)
from scheduler.domain.limits import (
    check_client_token,
    check_instance_ids,
    check_page_size,
    require_id,
)
from scheduler.domain.models import Command, InvocationSettings, PlannedExecution
from scheduler.domain.rollout import first_slice
from scheduler.domain.selectors import check_selected, check_targeting
from scheduler.domain.tags import Tag, check_tags
from scheduler.domain.tenancy import Tenant
from scheduler.operations.commands import take_command_slot
from scheduler.operations.context import Context
from scheduler.operations.lifecycle import request_stop
from scheduler.operations.tags import tag_new
from scheduler.store import commands as command_store
from scheduler.store import executions as execution_store
from scheduler.store import files as file_store
from scheduler.store import instances as instance_store
from scheduler.store import invocations as store
from scheduler.store import notices, quota, watching
from scheduler.store import selectors as selector_store
from scheduler.store.dispatch import TaskView, new_task
from scheduler.store.executions import ExecutionView, NewExecution
from scheduler.store.invocations import InvocationFilter, InvocationView, NewTarget
from scheduler.store.watching import Followed


@dataclass(frozen=True, kw_only=True)
class InvokeRequest:
    """The fields shared by InvokeCommand and RunCommand."""

    instance_ids: list[str]
    settings: SettingsRequest
    client_token: str
    # Tags (issue 12): the instances by their tags, instead of instance_ids; the new
    # invocation's own tags.
    resource_tags: list[Tag] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


@dataclass(frozen=True)
class Targeting:
    """An invocation's instances as requested: by ids, or by a selector (``resource_tags``)."""

    instance_ids: list[str]
    selector: dict[str, str] | None
    tags: dict[str, str]
    """The invocation's own tags."""


async def invoke_command(
    ctx: Context, tenant: Tenant, command_id: str, request: InvokeRequest, request_hash: str
) -> str:
    """Invoke a saved command on instances; returns the invocation id."""
    require_id("command_id", command_id)
    targeting = _check_request(ctx, request)

    async def invoke(conn: AsyncConnection, created: Created) -> dict[str, str]:
        # A common command (issue 13, item 4) comes from the code, shared by every account.
        common = catalogue.find(command_id)
        command = common or await command_store.get_command(conn, tenant, command_id)
        if command is None or not command.kept:
            raise not_found(
                RefusalCode.INVALID_COMMAND_ID_NOT_FOUND, f"command {command_id} not found"
            )
        invoke_id = await _invoke(conn, ctx, tenant, command, targeting, request, created)
        if common is None:
            await command_store.count_invocation(conn, command.id)
        return {"invoke_id": invoke_id}

    response = await _creating(
        ctx, tenant, "InvokeCommand", targeting.instance_ids, request, request_hash, invoke
    )
    return str(response["invoke_id"])


async def run_command(
    ctx: Context,
    tenant: Tenant,
    command_request: CommandRequest,
    request: InvokeRequest,
    *,
    keep_command: bool,
    request_hash: str,
) -> tuple[str, str]:
    """Create a command and invoke it in one step; returns command and invocation ids."""
    command = new_command(
        ctx.limits, command_request, command_id=ids.command_id(), kept=keep_command
    )
    # Stored already invoked once: no second statement to count the invocation.
    command = replace(command, invoke_times=1)
    targeting = _check_request(ctx, request)

    async def run(conn: AsyncConnection, created: Created) -> dict[str, str]:
        await take_command_slot(conn, ctx, tenant, command)
        # The command is stored with the invocation, in its statement.
        invoke_id = await _invoke(
            conn, ctx, tenant, command, targeting, request, created, new_command=True
        )
        return {"command_id": command.id, "invoke_id": invoke_id}

    response = await _creating(
        ctx, tenant, "RunCommand", targeting.instance_ids, request, request_hash, run
    )
    return str(response["command_id"]), str(response["invoke_id"])


async def send_file(
    ctx: Context,
    tenant: Tenant,
    *,
    instance_ids: list[str],
    resource_tags: list[Tag],
    client_token: str,
    file: SendFileRequest,
    request_hash: str,
) -> str:
    """Create a file task: an invocation run at once whose executions write the file (its
    bytes are their script); returns its ``f-`` id."""
    task = check_send_file(ctx.limits, file)
    request = InvokeRequest(
        instance_ids=instance_ids,
        resource_tags=resource_tags,
        client_token=client_token,
        settings=SettingsRequest(
            repeat_mode=RepeatMode.ONCE,
            frequency="",
            parameters={},
            username="",
            working_dir="",
            timeout=task.timeout,
            container_id="",
            container_name="",
        ),
    )
    targeting = _check_request(ctx, request)
    command = file_command(task)

    async def send(conn: AsyncConnection, created: Created) -> dict[str, str]:
        invoke_id = await _invoke(
            conn,
            ctx,
            tenant,
            command,
            targeting,
            request,
            created,
            invoke_id=ids.file_task_id(),
            file=task,
        )
        return {"invoke_id": invoke_id}

    response = await _creating(
        ctx, tenant, "SendFile", targeting.instance_ids, request, request_hash, send
    )
    return str(response["invoke_id"])


async def stop_invocation(
    ctx: Context, tenant: Tenant, invoke_id: str, instance_ids: list[str]
) -> None:
    """Cancel what has not started, stop what runs, end future fires."""
    require_id("invoke_id", invoke_id)
    requested = check_instance_ids(ctx.limits, instance_ids, required=False)

    async def stop(conn: AsyncConnection) -> None:
        targets = await store.invocation_instances(conn, tenant, invoke_id)
        if targets is None:
            raise _invocation_not_found(invoke_id)
        unknown = [i for i in requested if i not in targets]
        if unknown:
            raise not_found(
                RefusalCode.INVALID_INSTANCE_NOT_FOUND,
                f"invocation {invoke_id} has no instances {', '.join(unknown)}",
            )
        await request_stop(
            conn, invoke_id, requested or targets, whole=set(requested or targets) >= set(targets)
        )

    await ctx.transaction(stop)


async def describe_invocations(
    ctx: Context, tenant: Tenant, where: InvocationFilter, max_results: int, next_token: str
) -> tuple[list[InvocationView], int, str]:
    """One page of the tenant's invocations with their targets."""
    page_size = check_page_size(max_results)

    async def read(conn: AsyncConnection) -> tuple[list[InvocationView], int, str]:
        return await store.list_invocations(conn, tenant, where, page_size, next_token)

    return await ctx.transaction(read)


async def describe_results(
    ctx: Context,
    tenant: Tenant,
    invoke_id: str,
    *,
    instance_id: str,
    include_history: bool,
    max_results: int,
    next_token: str,
) -> tuple[list[ExecutionView], int, str]:
    """One page of an invocation's per-instance results."""
    require_id("invoke_id", invoke_id)
    page_size = check_page_size(max_results)

    async def read(conn: AsyncConnection) -> tuple[list[ExecutionView], int, str]:
        if await store.invocation_instances(conn, tenant, invoke_id) is None:
            raise _invocation_not_found(invoke_id)
        return await execution_store.list_results(
            conn,
            invoke_id,
            instance_id=instance_id,
            include_history=include_history,
            page_size=page_size,
            next_token=next_token,
        )

    return await ctx.transaction(read)


async def watch_start(
    ctx: Context, tenant: Tenant, invoke_id: str
) -> tuple[InvocationStatus, list[ExecutionView]]:
    """An invocation's overall status and its executions (only the latest ones with their
    output): where a watch starts."""
    require_id("invoke_id", invoke_id)
    return await _watch_read(ctx, tenant, invoke_id, watching.first_runs)


async def watch_changes(
    ctx: Context, tenant: Tenant, invoke_id: str, followed: Followed
) -> tuple[InvocationStatus, list[ExecutionView]]:
    """An invocation's overall status and the executions that may have changed since
    ``followed``: never its whole history (``store.watching``)."""
    return await _watch_read(
        ctx, tenant, invoke_id, lambda conn, id_: watching.changed_runs(conn, id_, followed)
    )


async def _watch_read(
    ctx: Context,
    tenant: Tenant,
    invoke_id: str,
    runs: Callable[[AsyncConnection, str], Awaitable[list[ExecutionView]]],
) -> tuple[InvocationStatus, list[ExecutionView]]:
    async def read(conn: AsyncConnection) -> tuple[InvocationStatus, list[ExecutionView]]:
        # The status first: once it is final, the executions read after it are too.
        status = await watching.invocation_status(conn, tenant, invoke_id)
        if status is None:
            raise _invocation_not_found(invoke_id)
        return status, await runs(conn, invoke_id)

    return await ctx.transaction(read)


class Created:
    """What the attempts of a creating transaction made for the agents held here."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.reserved = reserved
        """Instances whose agents this process holds: their executions are handed over."""
        # By invocation id: each attempt of the transaction makes a new one, and only
        # the committed one (the response's) is handed over.
        self.tasks: dict[str, list[TaskView]] = {}


async def _creating(
    ctx: Context,
    tenant: Tenant,
    operation: str,
    instance_ids: list[str],
    request: InvokeRequest,
    request_hash: str,
    work: Callable[[AsyncConnection, Created], Awaitable[dict[str, str]]],
) -> dict[str, str]:
    """Run a creating ``work`` once per client token (``Context.idempotent``), the agents
    held here reserved around it; once it has committed, hand its tasks over to them."""
    reservation = ctx.agents.reserve(tenant, instance_ids)
    created = Created(reservation.instance_ids)
    try:
        response = await ctx.idempotent(
            tenant,
            operation,
            request.client_token,
            request_hash,
            lambda conn: work(conn, created),
        )
    except BaseException:
        reservation.release()
        raise
    # A repeated request gets the first response and hands nothing over (nothing was
    # made); a rolled-back attempt's invocation is not the response's.
    reservation.hand_over(created.tasks.get(response["invoke_id"], []))
    return response


def _check_request(ctx: Context, request: InvokeRequest) -> Targeting:
    check_client_token(request.client_token)
    check_targeting(request.instance_ids, request.resource_tags)
    tags = check_tags(request.tags)
    if request.resource_tags:
        return Targeting([], check_tags(request.resource_tags, "resource_tags"), tags)
    return Targeting(check_instance_ids(ctx.limits, request.instance_ids), None, tags)


async def _instance_ids(
    conn: AsyncConnection,
    ctx: Context,
    tenant: Tenant,
    targeting: Targeting,
    settings: InvocationSettings,
) -> list[str]:
    """The instances to target: those named, or those the selector matches now.

    For a selector, the tenant's tag changes in flight are waited for and held off to
    the commit (``store.selectors``): an instance whose tags change meanwhile joins or
    leaves by the rules of the invocation once it exists.
    """
    if targeting.selector is None:
        return targeting.instance_ids
    await selector_store.lock_for_creation(conn, tenant)
    limit = ctx.limits.max_instances_per_selector
    matched = await selector_store.matching_instances(conn, tenant, targeting.selector, limit + 1)
    check_selected(
        len(matched),
        limit=limit,
        immediate=settings.repeat_mode.is_immediate,
        selector=targeting.selector,
    )
    return matched


async def _invoke(
    conn: AsyncConnection,
    ctx: Context,
    tenant: Tenant,
    command: Command,
    targeting: Targeting,
    request: InvokeRequest,
    created: Created,
    *,
    new_command: bool = False,
    invoke_id: str | None = None,
    file: FileTask | None = None,
) -> str:
    """Create an invocation of ``command`` (``invoke_id``, or a new ``t-`` id); with
    ``file``, a file task whose executions write it (``send_file``)."""
    settings = check_settings(ctx.limits, request.settings, command)
    instance_ids = await _instance_ids(conn, ctx, tenant, targeting, settings)
    found, now = await instance_store.get_instances(conn, tenant, instance_ids)
    immediate = settings.repeat_mode.is_immediate
    targets = check_targets(
        instance_ids, found, now=now, limits=ctx.limits, require_online=immediate
    )
    invoke_id = invoke_id or ids.invoke_id()
    # Rendered now even for timed invocations: a script too long once its
    # parameters are substituted is refused before anything is stored.
    plans = plan_executions(
        command=command,
        settings=settings,
        targets=targets,
        tenant=tenant,
        invoke_id=invoke_id,
        content_limit=(
            ctx.limits.max_saved_content if command.kept else ctx.limits.max_unsaved_content
        ),
        new_id=ids.execution_id,
    )
    invocation = NewInvocation(
        tenant=tenant,
        invoke_id=invoke_id,
        command=command,
        settings=settings,
        now=now,
        new_command=new_command,
        resource_tags=targeting.selector,
        file=file,
    )
    if immediate:
        await _store_run(conn, ctx, invocation, plans, created)
    else:
        planned = plan_targets(settings, targets, invoke_id=invoke_id, now=now)
        await _store_schedule(conn, invocation, planned)
    await tag_new(conn, tenant, ResourceType.INVOCATION, invoke_id, targeting.tags)
    return invoke_id


@dataclass(frozen=True, kw_only=True)
class NewInvocation:
    """An invocation being made, as its storing needs it."""

    tenant: Tenant
    invoke_id: str
    command: Command
    settings: InvocationSettings
    now: datetime
    new_command: bool
    """The command is new too (RunCommand's), stored in the same statement."""
    resource_tags: dict[str, str] | None = None
    """The selector of an invocation by tags (issue 12); None: by instance ids."""
    file: FileTask | None = None
    """The file a file task writes (SendFile); None for a script."""


async def _store_run(
    conn: AsyncConnection,
    ctx: Context,
    invocation: NewInvocation,
    plans: list[PlannedExecution],
    created: Created,
) -> None:
    """Store a run and its executions now; those for agents held here are handed over."""
    tenant, invoke_id, now = invocation.tenant, invocation.invoke_id, invocation.now
    settings = invocation.settings
    sliced = first_slice(
        plans, max_concurrency=settings.max_concurrency, max_errors=settings.max_errors
    )
    plans = [plan for plan, _ in sliced]
    released = {plan.id for plan, go in sliced if go}
    runnable = [p for p in plans if p.status is InvocationStatus.PENDING and p.id in released]
    handed = [p for p in runnable if p.instance_id in created.reserved]
    sent = {p.id for p in handed}
    await _store(
        conn,
        invocation,
        [
            NewTarget(
                instance_id=p.instance_id,
                status=p.status,
                armed=False,
                next_fire_at=None,
                repeats=1,
            )
            for p in plans
        ],
        new_executions=[
            NewExecution(
                tenant=tenant,
                invocation_id=invoke_id,
                plan=plan,
                scheduled_at=now,
                repeat=1,
                delivered=plan.id in sent,
                released=plan.id in released,
            )
            for plan in plans
        ],
    )
    created.tasks[invoke_id] = [
        new_task(
            tenant,
            invoke_id,
            invocation.command,
            invocation.settings,
            plan,
            scheduled_at=now,
            file=invocation.file.spec if invocation.file else None,
        )
        for plan in handed
    ]
    if len(handed) < len(runnable):
        await notices.send_dispatch(conn, [invoke_id])
    # Last: the tenant's one usage row of the day stays locked from here to the commit,
    # and every call of the tenant waits for it (a refusal rolls all of it back).
    await _take_daily_quota(conn, ctx, tenant, invocation.settings, len(plans), now)


async def _store_schedule(
    conn: AsyncConnection, invocation: NewInvocation, planned: list[PlannedTarget]
) -> None:
    """Store a timed invocation, its targets armed for their first fires."""
    await _store(
        conn,
        invocation,
        [
            NewTarget(
                instance_id=p.instance_id,
                status=InvocationStatus.SCHEDULED,
                armed=True,
                next_fire_at=p.next_fire_at,
                repeats=0,
            )
            for p in planned
        ],
    )
    await notices.send(conn, notices.schedules_changed(invocation.invoke_id))


async def _store(
    conn: AsyncConnection,
    invocation: NewInvocation,
    targets: list[NewTarget],
    *,
    new_executions: list[NewExecution] | tuple[()] = (),
) -> None:
    """Store the invocation, its targets and, for a run, its executions: one statement."""
    await store.insert_invocation(
        conn,
        invocation.tenant,
        invoke_id=invocation.invoke_id,
        command=invocation.command,
        settings=invocation.settings,
        targets=targets,
        new_command=invocation.new_command,
        new_executions=new_executions,
        resource_tags=invocation.resource_tags,
    )
    if invocation.file is not None:
        await file_store.insert_send_file(
            conn, invocation.tenant, invocation.invoke_id, invocation.file
        )


async def _take_daily_quota(
    conn: AsyncConnection,
    ctx: Context,
    tenant: Tenant,
    settings: InvocationSettings,
    count: int,
    now: datetime,
) -> None:
    """Count a ONCE invocation's executions in today's (UTC) quota; refused beyond it."""
    if counts_against_quota(settings.repeat_mode) and not await quota.take_executions(
        conn, tenant, now.date(), count, ctx.limits.max_daily_executions
    ):
        raise quota_exceeded(
            RefusalCode.INVOCATION_EXCEED_QUOTA,
            QuotaName.MAX_DAILY_EXECUTION_COUNT,
            f"{count} executions would exceed today's (UTC) limit of "
            f"{ctx.limits.max_daily_executions} executions",
        )


def _invocation_not_found(invoke_id: str) -> Exception:
    return not_found(RefusalCode.INVALID_INVOKE_ID_NOT_FOUND, f"invocation {invoke_id} not found")
