"""Queries on file tasks (SendFile): their file rows and DescribeSendFileResults' pages.

A file task is an invocation; its ``send_files`` row is what makes it one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Text, any_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.files import FileSpec, FileTask
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import array, array_parameter
from scheduler.store.paging import (
    newest_first,
    newest_first_token,
)
from scheduler.store.tables import executions, invocations, send_files


async def insert_send_file(
    conn: AsyncConnection, tenant: Tenant, invoke_id: str, task: FileTask
) -> None:
    """Store the file of the new file task ``invoke_id`` (after its invocation)."""
    spec = task.spec
    await conn.execute(
        insert(send_files).values(
            invocation_id=invoke_id,
            account_id=tenant.account_id,
            region_id=tenant.region_id,
            name=spec.name,
            description=task.description,
            target_dir=spec.target_dir,
            file_mode=spec.mode,
            file_owner=spec.owner,
            file_group=spec.group,
            overwrite=spec.overwrite,
        )
    )


def is_file_task(invocation_id: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether the invocation ``invocation_id`` is a file task."""
    return (
        select(send_files.c.invocation_id)
        .where(send_files.c.invocation_id == invocation_id)
        .exists()
    )


@dataclass(frozen=True, kw_only=True)
class FileFilter:
    """What DescribeSendFileResults narrows its page to; empty fields do not narrow."""

    invoke_id: str
    instance_id: str
    name: str
    statuses: list[InvocationStatus]
    """Overall statuses (those a file status filter stands for); empty: any."""


@dataclass(frozen=True, kw_only=True)
class FileInstance:
    """One instance of a file task: its execution as it stands."""

    instance_id: str
    status: InvocationStatus
    error_code: str
    error_info: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class FileTaskView:
    """A file task as DescribeSendFileResults shows it (statuses as stored)."""

    invoke_id: str
    spec: FileSpec
    description: str
    created_at: datetime
    status: InvocationStatus
    instances: list[FileInstance]


_INSTANCES = (
    select(
        executions.c.invocation_id,
        executions.c.instance_id,
        executions.c.status,
        executions.c.error_code,
        executions.c.error_info,
        executions.c.started_at,
        executions.c.finished_at,
    )
    .where(executions.c.invocation_id == any_(array_parameter("invocation_ids", Text())))
    .order_by(executions.c.invocation_id, executions.c.instance_id)
)


async def list_file_tasks(
    conn: AsyncConnection, tenant: Tenant, where: FileFilter, page_size: int, next_token: str
) -> tuple[list[FileTaskView], int, str]:
    """One page of the tenant's file tasks, newest first, the total and the next token."""
    conditions = [
        send_files.c.account_id == tenant.account_id,
        send_files.c.region_id == tenant.region_id,
    ]
    if where.invoke_id:
        conditions.append(send_files.c.invocation_id == where.invoke_id)
    if where.name:
        conditions.append(send_files.c.name == where.name)
    if where.statuses:
        conditions.append(invocations.c.status.in_([s.value for s in where.statuses]))
    if where.instance_id:
        conditions.append(
            select(executions.c.id)
            .where(
                executions.c.invocation_id == send_files.c.invocation_id,
                executions.c.instance_id == where.instance_id,
            )
            .exists()
        )
    joined = send_files.join(invocations, invocations.c.id == send_files.c.invocation_id)
    total = (
        await conn.execute(select(func.count()).select_from(joined).where(*conditions))
    ).scalar_one()
    query = (
        select(send_files, invocations.c.created_at, invocations.c.status)
        .select_from(joined)
        .where(*conditions)
    )
    query = newest_first(query, invocations.c.created_at, invocations.c.id, next_token, page_size)
    rows = (await conn.execute(query)).all()
    page_rows = rows[:page_size]
    found: dict[str, list[FileInstance]] = {}
    for row in await conn.execute(
        _INSTANCES, {"invocation_ids": array([r.invocation_id for r in page_rows])}
    ):
        if where.instance_id and row.instance_id != where.instance_id:
            continue
        found.setdefault(row.invocation_id, []).append(
            FileInstance(
                instance_id=row.instance_id,
                status=InvocationStatus(row.status),
                error_code=row.error_code,
                error_info=row.error_info,
                started_at=row.started_at,
                finished_at=row.finished_at,
            )
        )
    page = [
        FileTaskView(
            invoke_id=r.invocation_id,
            spec=FileSpec(
                name=r.name,
                target_dir=r.target_dir,
                mode=r.file_mode,
                owner=r.file_owner,
                group=r.file_group,
                overwrite=r.overwrite,
            ),
            description=r.description,
            created_at=r.created_at,
            status=InvocationStatus(r.status),
            instances=found.get(r.invocation_id, []),
        )
        for r in page_rows
    ]
    keys = [(r.created_at, r.invocation_id) for r in rows]
    return page, total, newest_first_token(keys, page_size)
