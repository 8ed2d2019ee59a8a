"""Per-invocation status counts stay equal to a full recompute, alone and under concurrency.

``refresh_statuses`` re-derives only the targets it is given and changes the
counts by delta; the overall status comes from the counts. A full recompute
(here only, as the oracle) reads every target's latest execution and applies
the pure rules of ``domain.status``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.agent_reports import Finished
from scheduler.domain.enums import EXECUTION_STATUSES, InvocationStatus, RepeatMode
from scheduler.domain.limits import Limits
from scheduler.domain.status import TargetKey, overall_status, target_status
from scheduler.domain.tenancy import InstanceKey
from scheduler.operations import firing
from scheduler.store import reports, targets
from scheduler.store.statuses import refresh_statuses
from scheduler.store.tables import (
    executions,
    invocation_status_counts,
    invocation_targets,
    invocations,
)
from tests.factories import execution_result
from tests.integration.seed import (
    FIRST_FIRE,
    TENANT,
    add_command,
    add_execution,
    add_instance,
    add_invocation,
)

S = InvocationStatus
INVOCATIONS = ("inv-a", "inv-b")
TARGETS_EACH = 60
STEPS = 40
LOCK_WAIT_SECONDS = 10.0


@dataclass(kw_only=True, frozen=True)
class Statuses:
    """Every target's status, each invocation's counts above zero and overall status."""

    targets: dict[TargetKey, InvocationStatus]
    counts: dict[str, Counter[InvocationStatus]]
    overall: dict[str, InvocationStatus]


async def recompute(conn: AsyncConnection) -> Statuses:
    """Every target's status from its latest execution, then the counts and overall statuses."""
    latest = (
        select(
            executions.c.invocation_id,
            executions.c.instance_id,
            executions.c.status,
        )
        .ext(distinct_on(executions.c.invocation_id, executions.c.instance_id))
        .order_by(executions.c.invocation_id, executions.c.instance_id, executions.c.repeat.desc())
        .subquery()
    )
    rows = await conn.execute(
        select(
            invocation_targets.c.invocation_id,
            invocation_targets.c.instance_id,
            invocation_targets.c.armed,
            latest.c.status,
        ).outerjoin(
            latest,
            (latest.c.invocation_id == invocation_targets.c.invocation_id)
            & (latest.c.instance_id == invocation_targets.c.instance_id),
        )
    )
    targets = {
        TargetKey(r.invocation_id, r.instance_id): target_status(
            None if r.status is None else S(r.status), armed=r.armed
        )
        for r in rows
    }
    counts: dict[str, Counter[InvocationStatus]] = {}
    for key, status in targets.items():
        counts.setdefault(key.invocation_id, Counter())[status] += 1
    overall = {invoke_id: overall_status(c) for invoke_id, c in counts.items()}
    return Statuses(targets=targets, counts=counts, overall=overall)


async def stored(conn: AsyncConnection) -> Statuses:
    """What the tables say: target statuses, counts above zero, overall statuses."""
    targets = {
        TargetKey(r.invocation_id, r.instance_id): S(r.status)
        for r in await conn.execute(select(invocation_targets))
    }
    counts: dict[str, Counter[InvocationStatus]] = {}
    for r in await conn.execute(
        select(invocation_status_counts).where(invocation_status_counts.c.targets > 0)
    ):
        counts.setdefault(r.invocation_id, Counter())[S(r.status)] = r.targets
    overall = {r.id: S(r.status) for r in await conn.execute(select(invocations))}
    return Statuses(targets=targets, counts=counts, overall=overall)


async def assert_consistent(conn: AsyncConnection) -> None:
    assert await stored(conn) == await recompute(conn)


class Changes:
    """Random execution changes to the targets of ``INVOCATIONS``, as fires, results and stops
    would make them, each step followed by the refresh of the targets it touched."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.repeats: Counter[TargetKey] = Counter()
        self.keys = [
            TargetKey(invoke_id, f"i-{n}") for invoke_id in INVOCATIONS for n in range(TARGETS_EACH)
        ]

    async def step(self, conn: AsyncConnection) -> None:
        touched = self.rng.sample(self.keys, self.rng.randint(1, 12))
        for key in touched:
            await self._change(conn, key)
        await refresh_statuses(conn, touched)

    async def _change(self, conn: AsyncConnection, key: TargetKey) -> None:
        kind = self.rng.choice(("fire", "report", "report", "arm", "nothing"))
        if kind == "fire" or (kind == "report" and not self.repeats[key]):
            self.repeats[key] += 1
            await add_execution(
                conn,
                key.invocation_id,
                key.instance_id,
                status=self._status(),
                repeat=self.repeats[key],
            )
        elif kind == "report":
            repeat = self.rng.randint(1, self.repeats[key])
            await conn.execute(
                update(executions)
                .where(
                    executions.c.invocation_id == key.invocation_id,
                    executions.c.instance_id == key.instance_id,
                    executions.c.repeat == repeat,
                )
                .values(status=self._status().value)
            )
        elif kind == "arm":
            await conn.execute(
                update(invocation_targets)
                .where(
                    invocation_targets.c.invocation_id == key.invocation_id,
                    invocation_targets.c.instance_id == key.instance_id,
                )
                .values(armed=self.rng.random() < 0.5)
            )

    def _status(self) -> InvocationStatus:
        return self.rng.choice(sorted(EXECUTION_STATUSES))


@pytest.mark.parametrize("seed", range(4))
async def test_counts_and_statuses_equal_a_full_recompute_after_every_change(
    engine: AsyncEngine, seed: int
) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
        for n in range(TARGETS_EACH):
            await add_instance(conn, f"i-{n}")
        for invoke_id in INVOCATIONS:
            await add_invocation(
                conn, invoke_id, [f"i-{n}" for n in range(TARGETS_EACH)], armed=True
            )
        await assert_consistent(conn)

    changes = Changes(seed)
    for _ in range(STEPS):
        async with engine.begin() as conn:
            await changes.step(conn)
        async with engine.connect() as conn:
            await assert_consistent(conn)


# --------------------------------------------------------------------------- concurrency


async def _seed_running_and_pending(engine: AsyncEngine) -> dict[str, str]:
    """An invocation with one target running (i-x) and one pending (i-y); their executions."""
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-x")
        await add_instance(conn, "i-y")
        await add_invocation(conn, "inv", ["i-x", "i-y"])
        ids = {
            "i-x": await add_execution(conn, "inv", "i-x", status=S.RUNNING),
            "i-y": await add_execution(conn, "inv", "i-y", status=S.PENDING),
        }
        await refresh_statuses(conn, [TargetKey("inv", "i-x"), TargetKey("inv", "i-y")])
        assert (await stored(conn)).overall == {"inv": S.PENDING}
    return ids


async def _finish(
    conn: AsyncConnection, instance_id: str, execution_id: str, status: InvocationStatus
) -> None:
    """What a batch of one result does in its transaction (``operations.reports.apply``):
    store the result, refresh its target."""
    result = execution_result(
        execution_id, status=status, exit_code=0 if status is S.SUCCESS else 1
    )
    changed = await reports.finish(conn, [Finished(InstanceKey(TENANT, instance_id), result)])
    assert [c.target for c in changed] == [TargetKey("inv", instance_id)]
    await refresh_statuses(conn, [c.target for c in changed])


Work = Callable[[AsyncConnection], Awaitable[None]]
"""Statements of one transaction, on its connection."""


async def overlapped(engine: AsyncEngine, first: Work, second: Work) -> bool:
    """Run ``first`` in a transaction and, while that is still open, ``second`` in another
    until it waits for a lock or ends; then commit the first and let the second end.

    Returns whether the second had ended before the first committed: it waited for
    none of the first's locks.
    """
    async with engine.connect() as one, engine.connect() as two:
        pid = (await two.execute(select(func.pg_backend_pid()))).scalar_one()
        await two.commit()
        async with one.begin():
            await first(one)

            async def then() -> None:
                async with two.begin():
                    await second(two)

            later = asyncio.create_task(then())
            await _until_waiting_or_done(engine, pid, later)
            ended_first = later.done()
        await later
    return ended_first


async def _until_waiting_or_done(engine: AsyncEngine, pid: int, task: asyncio.Task[None]) -> None:
    async with engine.connect() as watcher, asyncio.timeout(LOCK_WAIT_SECONDS):
        while not task.done():
            waiting = await watcher.scalar(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
            await watcher.rollback()  # a fresh snapshot of pg_stat_activity next time
            if waiting:
                return
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("first", ["i-x", "i-y"])
async def test_two_transactions_finishing_different_targets_leave_the_status_of_both(
    engine: AsyncEngine, first: str
) -> None:
    # i-x ends Success (Running -1, Success +1), i-y Failed (Pending -1, Failed +1): the
    # two change different counts rows, so only the invocation's lock orders them. The
    # first refreshes and holds its transaction open while the second refreshes; then
    # the first commits. Either way the invocation must end PartialFailed.
    executions_of = await _seed_running_and_pending(engine)
    outcome = {"i-x": S.SUCCESS, "i-y": S.FAILED}
    second = "i-y" if first == "i-x" else "i-x"

    def finishing(instance_id: str) -> Work:
        return lambda conn: _finish(
            conn, instance_id, executions_of[instance_id], outcome[instance_id]
        )

    await overlapped(engine, finishing(first), finishing(second))

    async with engine.connect() as conn:
        assert (await stored(conn)).overall == {"inv": S.PARTIAL_FAILED}
        await assert_consistent(conn)


@pytest.mark.parametrize("fire_first", [True, False])
async def test_a_fire_and_a_result_of_one_target_at_once_count_the_target_once(
    engine: AsyncEngine, fire_first: bool
) -> None:
    # An armed target runs its first execution; one transaction creates its next
    # execution (a boot trigger fires, say) while another stores the first one's
    # result. Whichever refreshes second must derive the target from both (Pending),
    # and subtract the status the first one wrote, not the one it saw before.
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-x")
        await add_invocation(conn, "inv", ["i-x"], armed=True)
        running = await add_execution(conn, "inv", "i-x", status=S.RUNNING)
        await refresh_statuses(conn, [TargetKey("inv", "i-x")])

    async def fire(conn: AsyncConnection) -> None:
        await add_execution(conn, "inv", "i-x", status=S.PENDING, repeat=2)
        await refresh_statuses(conn, [TargetKey("inv", "i-x")])

    async def result(conn: AsyncConnection) -> None:
        await _finish(conn, "i-x", running, S.SUCCESS)

    first, second = (fire, result) if fire_first else (result, fire)
    await overlapped(engine, first, second)

    async with engine.connect() as conn:
        assert (await stored(conn)).targets == {TargetKey("inv", "i-x"): S.PENDING}
        await assert_consistent(conn)


async def test_a_refresh_in_progress_does_not_hold_up_new_executions_of_its_invocation(
    engine: AsyncEngine,
) -> None:
    # The invocation's lock at the end of a refresh is FOR NO KEY UPDATE: inserting an
    # execution of the same invocation (a fire on another target), whose foreign key
    # check takes a KEY SHARE lock on the invocation, goes on at once instead of
    # waiting for the refresh's transaction to commit.
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-x")
        await add_instance(conn, "i-y")
        await add_invocation(conn, "inv", ["i-x", "i-y"], armed=True)
        running = await add_execution(conn, "inv", "i-x", status=S.RUNNING)
        await refresh_statuses(conn, [TargetKey("inv", "i-x")])

    async def result(conn: AsyncConnection) -> None:
        await _finish(conn, "i-x", running, S.SUCCESS)

    async def fire(conn: AsyncConnection) -> None:
        await add_execution(conn, "inv", "i-y", status=S.PENDING)

    assert await overlapped(engine, result, fire), "the new execution waited for the refresh"


# --------------------------------------------------------------------------- fires


async def _round(conn: AsyncConnection, plan: dict[str, tuple[bool, bool]]) -> firing.Round:
    """Claim the due targets and make ``plan``'s round of them: instance → (fires, stays armed),
    fires in ``plan``'s order; a claimed target not in ``plan`` is skipped (an overlap)."""
    due = {t.instance.id: t for t in await targets.claim_due(conn, FIRST_FIRE, 100)}
    fires = [
        firing.Fire(target=due[instance_id], scheduled_at=FIRST_FIRE, starts_at=FIRST_FIRE)
        for instance_id, (fired, _) in plan.items()
        if fired
    ]
    updates = []
    for target in due.values():
        fired, armed = plan.get(target.instance.id, (False, True))
        updates.append(
            targets.TargetUpdate(
                invocation_id=target.invocation_id,
                instance_id=target.instance.id,
                armed=armed,
                next_fire_at=FIRST_FIRE + timedelta(seconds=10) if armed else None,
                fired=int(fired),
                overlap_skips=int(not fired and armed),
                misfire_skips=0,
            )
        )
    return firing.Round(fires=fires, updates=updates)


async def test_a_fire_round_leaves_statuses_and_counts_equal_a_full_recompute(
    engine: AsyncEngine,
) -> None:
    # The round re-derives its targets' statuses as it advances them and only counts
    # the moves: every kind of target a round moves on must come out as a full
    # recompute says. The quota lets the first two fires run; the others fail.
    instance_ids = [f"i-{n}" for n in range(6)]
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in instance_ids:
            await add_instance(conn, instance_id)
        await add_invocation(conn, "inv", instance_ids, armed=True)
        await add_execution(conn, "inv", "i-4", status=S.SUCCESS)
        await add_execution(conn, "inv", "i-5", status=S.RUNNING)
        await refresh_statuses(conn, [TargetKey("inv", "i-4"), TargetKey("inv", "i-5")])

    async with engine.begin() as conn:
        round_ = await _round(
            conn,
            {
                "i-0": (True, True),  # runs, stays armed
                "i-2": (True, False),  # runs its last fire
                "i-1": (True, True),  # beyond the quota, stays armed
                "i-3": (True, False),  # beyond the quota, its last fire
                "i-4": (False, False),  # disarmed without a fire, after a Success
            },  # i-5: still running, an overlap skip
        )
        await firing.fire(
            conn, Limits(max_daily_executions=2), round_, FIRST_FIRE.date(), trigger="schedule"
        )

    async with engine.connect() as conn:
        assert (await stored(conn)).targets == {
            TargetKey("inv", "i-0"): S.PENDING,
            TargetKey("inv", "i-1"): S.SCHEDULED,
            TargetKey("inv", "i-2"): S.PENDING,
            TargetKey("inv", "i-3"): S.FAILED,
            TargetKey("inv", "i-4"): S.SUCCESS,
            TargetKey("inv", "i-5"): S.RUNNING,
        }
        await assert_consistent(conn)


@pytest.mark.parametrize("boot_first", [True, False])
async def test_a_boot_fire_and_a_result_of_one_target_at_once_count_the_target_once(
    engine: AsyncEngine, boot_first: bool
) -> None:
    # A boot fires an every-reboot target while its previous run's result is stored.
    # The boot's claim holds the target from before its execution is inserted to the
    # commit, and its advance derives the status the result's refresh then subtracts
    # (or, result first, the claim waits for the result and derives after it).
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-x")
        await add_invocation(conn, "inv", ["i-x"], armed=True, repeat_mode=RepeatMode.EVERY_REBOOT)
        running = await add_execution(conn, "inv", "i-x", status=S.RUNNING)
        await conn.execute(update(invocation_targets).values(repeats=1))  # it fired once
        await refresh_statuses(conn, [TargetKey("inv", "i-x")])

    async def boot(conn: AsyncConnection) -> None:
        await firing.fire_boot_triggers(conn, Limits(), [InstanceKey(TENANT, "i-x")])

    async def result(conn: AsyncConnection) -> None:
        await _finish(conn, "i-x", running, S.SUCCESS)

    first, second = (boot, result) if boot_first else (result, boot)
    await overlapped(engine, first, second)

    async with engine.connect() as conn:
        assert (await stored(conn)).targets == {TargetKey("inv", "i-x"): S.PENDING}
        await assert_consistent(conn)
