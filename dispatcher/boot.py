"""Boot triggers: a new boot id runs the instance's NEXT_REBOOT_ONLY and EVERY_REBOOT targets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import RepeatMode
from scheduler.domain.limits import Limits
from scheduler.operations.firing import Fire, create_executions
from scheduler.store import invocations as invocation_store
from scheduler.store import targets as target_store
from scheduler.store.clock import database_now
from scheduler.store.targets import TargetUpdate


async def fire_boot_triggers(conn: AsyncConnection, limits: Limits, instance_id: str) -> int:
    """Create this boot's executions; NEXT_REBOOT_ONLY targets then disarm.

    Runs in the transaction that records the new boot id, so a boot fires
    once however often the agent reconnects.
    """
    now = await database_now(conn)
    targets = await target_store.boot_targets(conn, instance_id)
    updates = [
        TargetUpdate(
            invocation_id=t.invocation_id,
            instance_id=instance_id,
            armed=t.repeat_mode is RepeatMode.EVERY_REBOOT,
            next_fire_at=None,
            fired=1,
            overlap_skips=0,
            misfire_skips=0,
        )
        for t in targets
    ]
    await target_store.advance(conn, updates)
    created = await create_executions(
        conn, limits, [Fire(t, now) for t in targets], now.date(), trigger="boot"
    )
    for invoke_id in sorted({u.invocation_id for u in updates if not u.armed}):
        await invocation_store.refresh_status(conn, invoke_id)
    return created
