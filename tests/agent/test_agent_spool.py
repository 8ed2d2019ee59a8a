"""The on-disk state: accepted ids, running marks, results until acked, recovery."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.process import is_alive, kill_leftover, process_start_time
from agent.spool import RETENTION, RunMark, Spool, SpoolLocked, is_expired, safe_name
from kairos.v1 import agent_pb2, common_pb2

from .agent_harness import BOOT_ID, Harness

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def result(execution_id: str) -> agent_pb2.ExecutionResult:
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=common_pb2.INVOCATION_STATUS_SUCCESS,
        output=b"hello\n",
        finish_time=NOW,
    )


def test_lifecycle_survives_a_reload(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    accepted = spool.accept("e-1", NOW)
    run = RunMark(pgid=4242, process_start=99, boot_id=BOOT_ID, start_time=NOW)
    spool.mark_running(accepted, run)
    spool.output_path("e-1").write_bytes(b"partial")
    spool.accept("e-2", NOW)
    spool.store_result(result("e-2"))
    done = spool.accept("e-3", NOW)
    spool.store_result(result("e-3"))
    spool.acknowledge(done)

    entries = {e.record.execution_id: e for e in Spool(tmp_path).load()}
    assert entries["e-1"].record.run == run
    assert entries["e-1"].result is None
    assert not entries["e-1"].record.acked
    assert entries["e-2"].result == result("e-2")
    assert entries["e-3"].record.acked
    assert entries["e-3"].result is None
    assert sorted(p.name for p in (tmp_path / "executions" / "e-3").iterdir()) == ["record.json"]


def test_results_are_replaced_atomically(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.accept("e-1", NOW)
    spool.store_result(result("e-1"))
    names = sorted(p.name for p in (tmp_path / "executions" / "e-1").iterdir())
    assert names == ["record.json", "result.pb"]  # no temporary left behind


def test_a_half_created_entry_is_forgotten(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "executions" / "e-torn").mkdir()
    (tmp_path / "executions" / "e-junk").mkdir()
    (tmp_path / "executions" / "e-junk" / "record.json").write_text("{not json")
    assert list(spool.load()) == []
    assert list((tmp_path / "executions").iterdir()) == []


@pytest.mark.parametrize("execution_id", ["../escape", "a/b", ".", "..", "x" * 200, "é", ""])
def test_unsafe_ids_get_hashed_names(tmp_path: Path, execution_id: str) -> None:
    name = safe_name(execution_id)
    assert name.startswith("sha256-")
    spool = Spool(tmp_path)
    spool.accept(execution_id, NOW)
    [entry] = spool.load()
    assert entry.record.execution_id == execution_id


def test_safe_ids_are_kept() -> None:
    assert safe_name("0f3e-1b2c_x.9") == "0f3e-1b2c_x.9"


def test_expiry_only_for_acked_records_older_than_retention(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    old = spool.accept("e-old", NOW - RETENTION - timedelta(seconds=1))
    assert not is_expired(old, NOW)  # not acknowledged: kept however old
    assert is_expired(spool.acknowledge(old), NOW)
    recent = spool.acknowledge(spool.accept("e-new", NOW - RETENTION))
    assert not is_expired(recent, NOW)


def test_one_agent_per_state_dir(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    first.lock()
    with pytest.raises(SpoolLocked, match=str(tmp_path)):
        Spool(tmp_path).lock()
    first.unlock()
    Spool(tmp_path).lock()


async def test_prune_forgets_old_acked_ids(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    old = harness.spool.accept("e-old", datetime.now(UTC) - RETENTION - timedelta(hours=1))
    harness.spool.acknowledge(old)
    harness.spool.acknowledge(harness.spool.accept("e-new", datetime.now(UTC)))
    harness.executions.recover()
    harness.executions.prune()
    assert [e.record.execution_id for e in harness.spool.load()] == ["e-new"]


def test_recovery_turns_unfinished_executions_into_client_restarted(tmp_path: Path) -> None:
    # A previous agent left: one queued task, one running script (still alive),
    # one finished result not yet acked, one acked execution.
    spool = Spool(tmp_path)
    spool.accept("e-queued", NOW)
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        start = process_start_time(leftover.pid)
        assert start is not None
        running = spool.accept("e-running", NOW)
        spool.mark_running(
            running,
            RunMark(pgid=leftover.pid, process_start=start, boot_id=BOOT_ID, start_time=NOW),
        )
        spool.output_path("e-running").write_bytes(b"x" * 30000)
        spool.accept("e-finished", NOW)
        spool.store_result(result("e-finished"))
        spool.acknowledge(spool.accept("e-acked", NOW))

        harness = Harness(tmp_path)
        harness.executions.recover()
        assert leftover.wait(timeout=10) == -9  # the leftover process group was killed
    finally:
        leftover.kill()
        leftover.wait()

    replayed = {m.result.execution_id: m.result for m in harness.executions.replay()}
    assert sorted(replayed) == ["e-finished", "e-queued", "e-running"]
    restarted = replayed["e-running"]
    assert restarted.status == common_pb2.INVOCATION_STATUS_ERROR
    assert restarted.error_code == "ClientRestarted"
    assert "killed" in restarted.error_info
    assert restarted.output == b"x" * 24576
    assert restarted.dropped == 30000 - 24576
    assert restarted.start_time.ToDatetime(tzinfo=UTC) == NOW
    assert replayed["e-queued"].error_code == "ClientRestarted"
    assert "before the task started" in replayed["e-queued"].error_info
    assert replayed["e-finished"] == result("e-finished")
    # Recovered results are on disk too: a second crash loses nothing.
    on_disk = {e.record.execution_id for e in Spool(tmp_path).load() if e.result is not None}
    assert on_disk == {"e-finished", "e-queued", "e-running"}
    # An acked id is still known: a redelivery is acked and not run.
    while not harness.sent.empty():  # results sent at recovery
        harness.sent.get_nowait()
    harness.executions.on_task(agent_pb2.Task(execution_id="e-acked", script=b"exit 1"))
    message = harness.sent.get_nowait()
    assert message is not None and message.ack.execution_id == "e-acked"
    assert harness.sent.empty()


def test_leftovers_of_another_boot_or_a_reused_pid_are_not_killed() -> None:
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        start = process_start_time(process.pid)
        assert start is not None
        other_boot = RunMark(
            pgid=process.pid, process_start=start, boot_id="another-boot", start_time=NOW
        )
        reused_pid = RunMark(
            pgid=process.pid, process_start=start + 1, boot_id=BOOT_ID, start_time=NOW
        )
        assert not kill_leftover(other_boot, BOOT_ID)
        assert not kill_leftover(reused_pid, BOOT_ID)
        assert not kill_leftover(
            RunMark(pgid=process.pid, process_start=start, boot_id=BOOT_ID, start_time=NOW), ""
        )
        assert is_alive(process.pid)
        assert kill_leftover(
            RunMark(pgid=process.pid, process_start=start, boot_id=BOOT_ID, start_time=NOW), BOOT_ID
        )
        assert process.wait(timeout=10) == -9
        assert not kill_leftover(
            RunMark(pgid=process.pid, process_start=start, boot_id=BOOT_ID, start_time=NOW), BOOT_ID
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not is_alive(os.getpid() + 10_000_000)
