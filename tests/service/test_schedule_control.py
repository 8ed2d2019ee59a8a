"""Schedule control against a real database and real gRPC: PauseInvocation,
ResumeInvocation, ModifyInvocation and TriggerInvocation.

As in ``test_timed``, the server runs without a ticker and each test drives its own
round by round, moving instants in the database instead of waiting for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.plays import receive_task, report
from tests.service.refusals import decode
from tests.service.test_timed import NO_TICKER, Timed, make_timed, periodic

S = common_pb2
I = invocation_pb2  # noqa: E741


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits()):
        yield value


async def _now(t: Timed) -> datetime:
    async with t.engine.connect() as conn:
        now: datetime = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return now


def _next(target: invocation_pb2.InvocationInstance) -> datetime:
    return target.next_fire_time.ToDatetime(tzinfo=UTC)


def _on_grid(invocation: invocation_pb2.Invocation, instant: datetime, seconds: int) -> bool:
    offset = instant - invocation.creation_time.ToDatetime(tzinfo=UTC)
    return offset % timedelta(seconds=seconds) == timedelta(0)


async def _age(t: Timed, invoke_id: str, seconds: float) -> None:
    """``Timed.rewind``, the executions' scheduled instants too: as if ``seconds`` passed
    (a later fire on an instant an earlier one had would be the same fire)."""
    await t.rewind(invoke_id, seconds)
    async with t.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE executions SET scheduled_at = scheduled_at - make_interval(secs => :s) "
                "WHERE invocation_id = :id"
            ),
            {"s": seconds, "id": invoke_id},
        )


def _paused_skips_counted() -> float:
    return REGISTRY.get_sample_value("kairos_fire_skips_total", {"reason": "paused"}) or 0.0


async def _pause(t: Timed, invoke_id: str) -> None:
    await t.kairos.invocations.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id))


async def _resume(t: Timed, invoke_id: str) -> None:
    await t.kairos.invocations.ResumeInvocation(I.ResumeInvocationRequest(invoke_id=invoke_id))


async def test_a_paused_invocation_fires_nothing_counts_skips_and_resumes_on_time(
    timed: Timed,
) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    invoke_id = response.invoke_id
    await _pause(timed, invoke_id)
    await _pause(timed, invoke_id)  # pausing a paused invocation changes nothing
    assert (await timed.invocation(invoke_id)).paused
    skipped_before = _paused_skips_counted()
    for _ in range(2):
        await _age(timed, invoke_id, 10.5)
        assert await timed.ticker.tick() == 1  # claimed and moved on, nothing created
    assert _paused_skips_counted() == skipped_before + 2
    invocation = await timed.invocation(invoke_id)
    target = invocation.instances[0]
    assert (target.paused_skips, target.repeats, target.overlap_skips) == (2, 0, 0)
    assert invocation.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    assert await timed.history(invoke_id) == []

    await _resume(timed, invoke_id)
    invocation = await timed.invocation(invoke_id)
    assert not invocation.paused
    resumed_next = _next(invocation.instances[0])
    now = await _now(timed)
    # The next future fire on the invocation's grid: nothing missed is made up.
    assert now < resumed_next <= now + timedelta(seconds=10)
    assert _on_grid(invocation, resumed_next, 10)
    assert await timed.ticker.tick() == 0
    await _age(timed, invoke_id, 10)
    assert await timed.ticker.tick() == 1
    runs = await timed.history(invoke_id)
    assert len(runs) == 1
    assert runs[0].scheduled_time.ToDatetime(tzinfo=UTC) == resumed_next - timedelta(seconds=10)
    assert (await timed.invocation(invoke_id)).instances[0].paused_skips == 2


async def test_a_stopped_invocation_is_no_longer_shown_paused(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await _pause(timed, response.invoke_id)
    await timed.kairos.invocations.StopInvocation(
        I.StopInvocationRequest(invoke_id=response.invoke_id)
    )
    invocation = await timed.invocation(response.invoke_id)
    # Final: nothing is left to pause or resume, and `kairos invocations` would print
    # "Stopped (paused)" otherwise.
    assert invocation.invocation_status == S.INVOCATION_STATUS_STOPPED
    assert not invocation.paused


async def test_resuming_makes_up_no_fire_missed_while_paused(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await _pause(timed, response.invoke_id)
    # No ticker ran during the pause: the last missed fire would be within the grace.
    await _age(timed, response.invoke_id, 45)
    await _resume(timed, response.invoke_id)
    await _resume(timed, response.invoke_id)  # resuming a running invocation changes nothing
    assert await timed.ticker.tick() == 0
    assert await timed.history(response.invoke_id) == []
    assert _next((await timed.invocation(response.invoke_id)).instances[0]) > await _now(timed)


async def test_a_boot_while_paused_is_a_counted_skip(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(
        I.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo booted",
            instance_ids=["i-1"],
            repeat_mode=S.REPEAT_MODE_EVERY_REBOOT,
        )
    )
    await _pause(timed, response.invoke_id)
    await _reboot(timed, "boot-2")
    assert await timed.history(response.invoke_id) == []
    assert (await timed.invocation(response.invoke_id)).instances[0].paused_skips == 1
    await _resume(timed, response.invoke_id)
    await _reboot(timed, "boot-3")
    assert len(await timed.history(response.invoke_id)) == 1


async def _reboot(t: Timed, boot_id: str) -> None:
    await t.peers["i-1"].close()
    t.peers["i-1"] = Peer(t.kairos.address, "i-1")
    await t.peers["i-1"].hello(boot_id=boot_id)


async def test_a_modified_frequency_takes_effect_at_the_next_fire(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(1m)"))
    invoke_id = response.invoke_id
    await _age(timed, invoke_id, 60.5)
    assert await timed.ticker.tick() == 1
    await report(
        timed.peers["i-1"], await receive_task(timed.peers["i-1"]), S.INVOCATION_STATUS_SUCCESS
    )
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(15s)")
    )
    invocation = await timed.invocation(invoke_id)
    assert invocation.frequency == "rate(15s)"
    target = invocation.instances[0]
    now = await _now(timed)
    assert now < _next(target) <= now + timedelta(seconds=15)
    assert _on_grid(invocation, _next(target), 15)
    assert target.repeats == 1  # the history stays
    assert target.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    await _age(timed, invoke_id, 15)
    assert await timed.ticker.tick() == 1
    runs = await timed.history(invoke_id)
    assert len(runs) == 2
    # Rewound by 15 s, the first new fire ran; the one after it is where that one was.
    assert _next((await timed.invocation(invoke_id)).instances[0]) == _next(target)


@pytest.mark.parametrize("control", ["modify", "resume"])
async def test_a_modify_or_resume_that_waited_for_a_fire_plans_after_it(
    timed: Timed, control: str
) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(20s)"))
    invoke_id = response.invoke_id
    await timed.rewind(invoke_id, 18)  # the next instant is 2 s away
    due = _next((await timed.invocation(invoke_id)).instances[0])
    if control == "resume":
        await _pause(timed, invoke_id)
    async with timed.engine.connect() as fire:
        # A fire (or a paused skip) holding the target past its instant, as the ticker's
        # round holds it.
        await fire.execute(
            text("SELECT 1 FROM invocation_targets WHERE invocation_id = :id FOR UPDATE"),
            {"id": invoke_id},
        )
        controlling = asyncio.ensure_future(
            timed.kairos.invocations.ModifyInvocation(
                I.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(10s)")
            )
            if control == "modify"
            else _resume(timed, invoke_id)
        )
        async with timed.engine.connect() as probe, asyncio.timeout(30):
            waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            while not (await probe.execute(waiting)).scalar_one():
                await probe.rollback()
                await asyncio.sleep(0.01)  # polling a condition: no event for "is waiting"
        # The instant passes while the fire holds the target: time, not a synchronisation.
        await asyncio.sleep((due - await _now(timed)).total_seconds() + 0.1)
        await fire.commit()
    await controlling
    # Planned from when the call began, the instant just handled came again: a past
    # instant, fired a second time (a paused one, made up after all). Both grids, 20 s
    # and the modified 10 s from the same start, hold it and the one 20 s later.
    assert _next((await timed.invocation(invoke_id)).instances[0]) == due + timedelta(
        seconds=10 if control == "modify" else 20
    )


async def test_modified_parameters_and_content_change_the_next_script(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(
        I.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo old {{who}}",
            enable_parameter=True,
            parameters={"who": "world"},
            instance_ids=["i-1"],
            frequency="rate(10s)",
        )
    )
    invoke_id = response.invoke_id
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(
            invoke_id=invoke_id,
            command_content="echo new {{who}} {{what}}",
            parameters=I.ParameterValues(values={"who": "you", "what": "now"}),
            timeout=120,
        )
    )
    invocation = await timed.invocation(invoke_id)
    assert (dict(invocation.parameters), invocation.timeout) == ({"who": "you", "what": "now"}, 120)
    await _age(timed, invoke_id, 10.5)
    assert await timed.ticker.tick() == 1
    task = await receive_task(timed.peers["i-1"])
    assert (task.script, task.timeout) == (b"echo new you now", 120)
    # Only the parameters given: the content stays.
    await report(timed.peers["i-1"], task, S.INVOCATION_STATUS_SUCCESS)
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(
            invoke_id=invoke_id, parameters=I.ParameterValues(values={"who": "them"})
        )
    )
    await _age(timed, invoke_id, 10)
    assert await timed.ticker.tick() == 1
    assert (await receive_task(timed.peers["i-1"])).script == b"echo new them "


async def test_instances_are_added_and_removed(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1"))
    invoke_id = response.invoke_id
    await _age(timed, invoke_id, 10.5)
    assert await timed.ticker.tick() == 1
    await report(
        timed.peers["i-1"], await receive_task(timed.peers["i-1"]), S.INVOCATION_STATUS_SUCCESS
    )
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(
            invoke_id=invoke_id, add_instance_ids=["i-2"], remove_instance_ids=["i-1"]
        )
    )
    invocation = await timed.invocation(invoke_id)
    targets = {t.instance_id: t for t in invocation.instances}
    # The removed instance keeps its history; the added one is planned as at creation.
    assert not targets["i-1"].HasField("next_fire_time")
    assert (targets["i-1"].invocation_status, targets["i-1"].repeats) == (
        S.INVOCATION_STATUS_SUCCESS,
        1,
    )
    assert targets["i-2"].invocation_status == S.INVOCATION_STATUS_SCHEDULED
    assert _on_grid(invocation, _next(targets["i-2"]), 10)
    assert invocation.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    await _age(timed, invoke_id, 10)
    assert await timed.ticker.tick() == 1
    runs = await timed.history(invoke_id)
    assert sorted(r.instance_id for r in runs) == ["i-1", "i-2"]
    # Adding it back arms it again, its history kept.
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=invoke_id, add_instance_ids=["i-1"])
    )
    targets = {t.instance_id: t for t in (await timed.invocation(invoke_id)).instances}
    assert targets["i-1"].invocation_status == S.INVOCATION_STATUS_SCHEDULED
    assert targets["i-1"].repeats == 1


async def test_a_trigger_runs_once_now_and_leaves_the_schedule(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(1h)", "i-1", "i-2"))
    invoke_id = response.invoke_id
    before = {t.instance_id: _next(t) for t in (await timed.invocation(invoke_id)).instances}
    await _pause(timed, invoke_id)  # a trigger works while paused
    triggered = await timed.kairos.invocations.TriggerInvocation(
        I.TriggerInvocationRequest(invoke_id=invoke_id, instance_ids=["i-2"])
    )
    assert (list(triggered.instance_ids), list(triggered.busy_instance_ids)) == (["i-2"], [])
    task = await receive_task(timed.peers["i-2"])
    assert task.scheduled_time == triggered.scheduled_time
    invocation = await timed.invocation(invoke_id)
    assert {t.instance_id: _next(t) for t in invocation.instances} == before
    targets = {t.instance_id: t for t in invocation.instances}
    assert (targets["i-1"].repeats, targets["i-2"].repeats) == (0, 1)
    # All armed instances: i-2's run still goes on, so it is skipped and said so.
    again = await timed.kairos.invocations.TriggerInvocation(
        I.TriggerInvocationRequest(invoke_id=invoke_id)
    )
    assert (list(again.instance_ids), list(again.busy_instance_ids)) == (["i-1"], ["i-2"])
    targets = {t.instance_id: t for t in (await timed.invocation(invoke_id)).instances}
    assert targets["i-2"].overlap_skips == 1
    assert len(await timed.history(invoke_id)) == 2


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def test_refusals(timed: Timed) -> None:
    calls = timed.kairos.invocations
    once = await calls.RunCommand(periodic("", "i-1"))
    stopped = await calls.RunCommand(periodic("rate(10s)"))
    await calls.StopInvocation(I.StopInvocationRequest(invoke_id=stopped.invoke_id))
    live = await calls.RunCommand(periodic("rate(10s)"))
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    for invoke_id, code in (
        (once.invoke_id, RefusalCode.INVALID_INVOCATION_REPEAT_MODE),
        (stopped.invoke_id, RefusalCode.INVALID_INVOCATION_FINISHED),
        ("t-unknown", RefusalCode.INVALID_INVOKE_ID_NOT_FOUND),
    ):
        for call in (
            calls.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id)),
            calls.ResumeInvocation(I.ResumeInvocationRequest(invoke_id=invoke_id)),
            calls.ModifyInvocation(I.ModifyInvocationRequest(invoke_id=invoke_id, timeout=60)),
            calls.TriggerInvocation(I.TriggerInvocationRequest(invoke_id=invoke_id)),
        ):
            refusal = decode(await _refused(call))
            assert refusal.info.reason == code.value
            expected = grpc.StatusCode.NOT_FOUND if "NotFound" in code.value else precondition
            assert refusal.status == expected
    for request, status, code in (
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, frequency="rate(5s)"),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_FREQUENCY_INTERVAL_TOO_SHORT,
        ),
        (
            I.ModifyInvocationRequest(
                invoke_id=live.invoke_id, frequency="at(2020-01-01 00:00:00)"
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_FREQUENCY_NO_FUTURE_FIRE,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, frequency=""),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_FREQUENCY,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_MODIFY,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, timeout=5),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_TIMEOUT,
        ),
        (
            I.ModifyInvocationRequest(
                invoke_id=live.invoke_id, parameters=I.ParameterValues(values={"x": "1"})
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_PARAMETERS,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, add_instance_ids=["i-nobody"]),
            grpc.StatusCode.NOT_FOUND,
            RefusalCode.INVALID_INSTANCE_NOT_FOUND,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, remove_instance_ids=["i-2"]),
            grpc.StatusCode.NOT_FOUND,
            RefusalCode.INVALID_INSTANCE_NOT_FOUND,
        ),
        (
            I.ModifyInvocationRequest(invoke_id=live.invoke_id, remove_instance_ids=["i-1"]),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_INSTANCE_ID,
        ),
        (
            I.ModifyInvocationRequest(
                invoke_id=live.invoke_id, add_instance_ids=["i-2"], remove_instance_ids=["i-2"]
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            RefusalCode.INVALID_PARAM_INSTANCE_ID,
        ),
    ):
        refusal = decode(await _refused(calls.ModifyInvocation(request)))
        assert (refusal.status, refusal.info.reason) == (status, code.value), request
    refusal = decode(
        await _refused(
            calls.TriggerInvocation(
                I.TriggerInvocationRequest(invoke_id=live.invoke_id, instance_ids=["i-2"])
            )
        )
    )
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_INSTANCE_NOT_FOUND.value,
    )
    # Nothing of the refused modifications was stored.
    invocation = await timed.invocation(live.invoke_id)
    assert (invocation.frequency, [t.instance_id for t in invocation.instances]) == (
        "rate(10s)",
        ["i-1"],
    )


async def test_a_trigger_of_a_removed_instance_is_refused(timed: Timed) -> None:
    calls = timed.kairos.invocations
    live = await calls.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
    await calls.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=live.invoke_id, remove_instance_ids=["i-2"])
    )
    refusal = decode(
        await _refused(
            calls.TriggerInvocation(
                I.TriggerInvocationRequest(invoke_id=live.invoke_id, instance_ids=["i-2"])
            )
        )
    )
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_INSTANCE_NOT_ARMED.value,
    )


async def test_another_accounts_invocation_is_not_found(
    servers: ServerFactory, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth_file, roles=NO_TICKER)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    agent = Peer(address, "i-a", token="agent-a")
    await agent.hello()
    mine = await a.invocations.RunCommand(periodic("rate(10s)", "i-a"), metadata=a.metadata)
    for call in (
        b.invocations.PauseInvocation(
            I.PauseInvocationRequest(invoke_id=mine.invoke_id), metadata=b.metadata
        ),
        b.invocations.ResumeInvocation(
            I.ResumeInvocationRequest(invoke_id=mine.invoke_id), metadata=b.metadata
        ),
        b.invocations.ModifyInvocation(
            I.ModifyInvocationRequest(invoke_id=mine.invoke_id, timeout=60), metadata=b.metadata
        ),
        b.invocations.TriggerInvocation(
            I.TriggerInvocationRequest(invoke_id=mine.invoke_id), metadata=b.metadata
        ),
    ):
        refusal = decode(await _refused(call))
        assert (refusal.status, refusal.info.reason) == (
            grpc.StatusCode.NOT_FOUND,
            RefusalCode.INVALID_INVOKE_ID_NOT_FOUND.value,
        )
    described = await a.invocations.DescribeInvocations(
        I.DescribeInvocationsRequest(invoke_id=mine.invoke_id), metadata=a.metadata
    )
    invocation = described.invocations[0]
    assert (invocation.paused, invocation.timeout, invocation.instances[0].repeats) == (
        False,
        3600,
        0,
    )
    await agent.close()


async def test_a_trigger_counts_against_the_daily_quota(servers: ServerFactory) -> None:
    async for t in make_timed(servers, Limits(max_daily_executions=1)):
        response = await t.kairos.invocations.RunCommand(periodic("rate(1h)", "i-1", "i-2"))
        await t.kairos.invocations.TriggerInvocation(
            I.TriggerInvocationRequest(invoke_id=response.invoke_id)
        )
        runs = await t.history(response.invoke_id)
        assert sorted((r.invocation_status, r.error_code) for r in runs) == [
            (S.INVOCATION_STATUS_PENDING, ""),
            (S.INVOCATION_STATUS_FAILED, "InvocationQuotaExceeded"),
        ]


async def test_a_pause_waits_for_a_round_that_holds_the_targets(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    invoke_id = response.invoke_id
    await _age(timed, invoke_id, 10.5)
    async with timed.engine.begin() as round_:
        assert await timed.ticker.tick_in(round_) == 1
        pausing = asyncio.ensure_future(_pause(timed, invoke_id))
        await _until_a_lock_is_awaited(timed)
        assert not pausing.done()
    await pausing
    # The round's fire happened before the pause; the next one is a paused skip.
    assert len(await timed.history(invoke_id)) == 1
    await _age(timed, invoke_id, 10)
    assert await timed.ticker.tick() == 1
    target = (await timed.invocation(invoke_id)).instances[0]
    assert (target.repeats, target.paused_skips) == (1, 1)


async def _until_a_lock_is_awaited(t: Timed) -> None:
    async with t.engine.connect() as probe, asyncio.timeout(10):
        while not (
            await probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        ).scalar_one():
            await probe.rollback()  # a fresh snapshot for the next look
            await asyncio.sleep(0.01)  # polling a condition: no event for "is waiting"


async def test_a_run_already_made_keeps_its_script(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", script="echo old"))
    await _age(timed, response.invoke_id, 10.5)
    assert await timed.ticker.tick() == 1
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=response.invoke_id, command_content="echo new")
    )
    task = await receive_task(timed.peers["i-1"])
    assert task.script == b"echo old"
    await report(timed.peers["i-1"], task, S.INVOCATION_STATUS_SUCCESS)
    await _age(timed, response.invoke_id, 10)
    assert await timed.ticker.tick() == 1
    assert (await receive_task(timed.peers["i-1"])).script == b"echo new"
