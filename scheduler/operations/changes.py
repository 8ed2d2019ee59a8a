"""After executions or targets change: their statuses, their invocations', and who is told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.status import StatusChange, TargetKey
from scheduler.store import notices
from scheduler.store import rollout as rollout_store
from scheduler.store import statuses as status_store


async def invocations_changed(
    conn: AsyncConnection,
    targets: Iterable[TargetKey],
    *,
    derived: Mapping[TargetKey, StatusChange] | None = None,
    new_work_in: Iterable[str] = (),
    rederive: Iterable[str] = (),
) -> None:
    """Executions or settings of these targets changed: bring their statuses up to date.

    Refreshes the targets' and their invocations' derived statuses (at the cost of
    the targets given, ``store.statuses``), moves on the fires of those invocations
    that rate control holds back (``store.rollout``: an execution that ended releases
    the next ones, or too many failures cancel them), then tells watchers of those
    invocations (EXECUTION) and, for the ``new_work_in`` invocations and those with
    executions just released (with executions for agents to run or stop), the
    dispatchers holding their agents (``notices.send_dispatch``). Notices go out when
    the transaction commits. Call it once per transaction, with every target the
    transaction changed: its locks are taken in a fixed order per call. ``derived``:
    targets among them whose statuses the transaction has re-derived already
    (``store.statuses.refresh_statuses``), or created; ``rederive``: invocations whose
    overall status is derived again anyway.
    """
    changed = sorted(set(targets))
    await status_store.refresh_statuses(conn, changed, derived=derived, rederive=rederive)
    invoke_ids = sorted({target.invocation_id for target in changed} | set(rederive))
    advanced = await rollout_store.advance_fires(conn, invoke_ids)
    if advanced.cancelled:
        # Rare: once per fire that fails too often. Its invocation is locked already, so
        # these targets are locked after it, against the usual order: a deadlock with a
        # concurrent stop of one of them is retried as any (``store.database``).
        await status_store.refresh_statuses(conn, advanced.cancelled)
    await notices.send(conn, notices.executions_changed(invoke_ids))
    await notices.send_dispatch(conn, [*new_work_in, *advanced.released_in])
