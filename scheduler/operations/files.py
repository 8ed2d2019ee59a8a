"""DescribeSendFileResults: the file tasks' page. SendFile itself creates an invocation
(``operations.invocations.send_file``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.files import statuses_shown_as
from scheduler.domain.limits import check_page_size
from scheduler.domain.tenancy import Tenant
from scheduler.operations.context import Context
from scheduler.store import files as store
from scheduler.store.files import FileFilter, FileTaskView


async def describe_send_file_results(
    ctx: Context,
    tenant: Tenant,
    *,
    invoke_id: str,
    instance_id: str,
    name: str,
    status: InvocationStatus | None,
    max_results: int,
    next_token: str,
) -> tuple[list[FileTaskView], int, str]:
    """One page of the tenant's file tasks, newest first; ``status``: a file status (one of
    ``domain.files.FILE_STATUSES``) that the overall status shows as."""
    page_size = check_page_size(max_results)
    where = FileFilter(
        invoke_id=invoke_id,
        instance_id=instance_id,
        name=name,
        statuses=statuses_shown_as(status) if status is not None else [],
    )

    async def read(conn: AsyncConnection) -> tuple[list[FileTaskView], int, str]:
        return await store.list_file_tasks(conn, tenant, where, page_size, next_token)

    return await ctx.transaction(read)
