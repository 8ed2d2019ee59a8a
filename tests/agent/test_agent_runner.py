"""Tasks run as real processes through the agent's executions, runner and spool."""

from __future__ import annotations

import os
import pwd
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agent import runner
from agent.process import is_alive
from kairos.v1 import common_pb2
from scheduler.domain.output import HEAD_BYTES, TAIL_BYTES

from .agent_harness import Harness, eventually, shell_task

S = common_pb2


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    """Build harnesses; whatever they still run is killed after the test."""
    made: list[Harness] = []

    def make(**options: Any) -> Harness:
        made.append(Harness(tmp_path / f"state-{len(made)}", **options))
        return made[-1]

    yield make
    for harness in made:
        await harness.executions.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


async def test_success_merges_stdout_and_stderr(harness: Harness) -> None:
    task = shell_task("echo out; echo err >&2; echo $PWD")
    harness.executions.on_task(task)
    ack = await harness.expect("ack", task.execution_id)
    started = await harness.expect("started", task.execution_id)
    result = (await harness.expect("result", task.execution_id)).result
    assert ack.ack.execution_id == task.execution_id
    assert result.status == S.INVOCATION_STATUS_SUCCESS
    assert (result.exit_code, result.error_code, result.dropped) == (0, "", 0)
    home = pwd.getpwuid(os.geteuid()).pw_dir
    assert result.output == f"out\nerr\n{home}\n".encode()
    assert result.start_time == started.started.start_time
    assert result.finish_time.ToDatetime() >= result.start_time.ToDatetime()
    assert harness.live_output(task.execution_id) == result.output


async def test_nonzero_exit_fails(harness: Harness) -> None:
    result = await harness.run(shell_task("echo bad; exit 3"))
    assert result.status == S.INVOCATION_STATUS_FAILED
    assert (result.exit_code, result.error_code) == (3, "ExitCodeNonzero")
    assert result.output == b"bad\n"


async def test_timeout_kills_the_whole_process_tree(harness: Harness, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = f"echo started; sleep 300 & echo $! > {pid_file}; wait"
    result = await harness.run(shell_task(script, timeout=1))
    assert result.status == S.INVOCATION_STATUS_TIMEOUT
    assert result.error_code == "ExecutionTimeout"
    assert result.exit_code == 137  # SIGKILL
    assert result.output == b"started\n"
    grandchild = int(pid_file.read_text())
    await eventually(lambda: not is_alive(grandchild), "the grandchild to die")


async def test_stop_terminates_a_running_script(harness: Harness, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    task = shell_task(f"sleep 300 & echo $! > {pid_file}; echo ready; wait")
    harness.executions.on_task(task)
    await harness.expect("output", task.execution_id)  # "ready": the tree exists
    harness.executions.on_stop(task.execution_id)
    result = (await harness.expect("result", task.execution_id)).result
    assert result.status == S.INVOCATION_STATUS_TERMINATED
    assert result.error_code == "ExecutionInterrupted"
    assert "stopped" in result.error_info
    grandchild = int(pid_file.read_text())
    await eventually(lambda: not is_alive(grandchild), "the grandchild to die")


async def test_long_output_keeps_head_and_tail(harness: Harness) -> None:
    result = await harness.run(shell_task("yes 0123456789 | head -c 40000"))
    produced = (b"0123456789\n" * 4000)[:40000]
    assert result.status == S.INVOCATION_STATUS_SUCCESS
    assert result.output == produced[:HEAD_BYTES] + produced[-TAIL_BYTES:]
    assert result.dropped == 40000 - HEAD_BYTES - TAIL_BYTES
    live = harness.live_output(result.execution_id)
    assert produced.startswith(live)
    chunks = [m for m in harness.messages if m.WhichOneof("kind") == "output"]
    assert all(len(m.output.data) <= 16 * 1024 for m in chunks)


async def test_output_is_spooled_while_running(harness: Harness) -> None:
    task = shell_task("echo first; sleep 300")
    harness.executions.on_task(task)
    await harness.expect("output", task.execution_id)
    assert harness.spool.output_path(task.execution_id).read_bytes() == b"first\n"
    harness.executions.on_stop(task.execution_id)
    await harness.expect("result", task.execution_id)


async def test_a_background_process_does_not_hold_the_result(
    harness: Harness, tmp_path: Path
) -> None:
    pid_file = tmp_path / "background.pid"
    result = await harness.run(shell_task(f"sleep 300 & echo $! > {pid_file}; echo done"))
    background = int(pid_file.read_text())
    try:
        assert result.status == S.INVOCATION_STATUS_SUCCESS
        assert result.output == b"done\n"
        assert is_alive(background)  # a script that exits on its own may leave daemons
    finally:
        os.kill(background, signal.SIGKILL)


async def test_spool_file_is_bounded(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "SPOOL_BYTES", 1000)
    result = await harness.run(shell_task("yes 0123456789 | head -c 40000"))
    produced = (b"0123456789\n" * 4000)[:40000]
    assert result.output == produced[:HEAD_BYTES] + produced[-TAIL_BYTES:]
    assert result.dropped == 40000 - HEAD_BYTES - TAIL_BYTES
    assert harness.spool.output_path(result.execution_id).read_bytes() == produced[:1000]
    assert harness.live_output(result.execution_id) == produced[:1000]


@pytest.mark.parametrize(
    ("fields", "error_code", "info"),
    [
        ({"working_dir": "/no/such/dir"}, "DirectoryNotExists", "/no/such/dir"),
        ({"username": "no-such-user-kairos"}, "AccountNotExists", "no-such-user-kairos"),
        (
            {"type": S.COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT},
            "InvalidCommandType",
            "COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT",
        ),
        ({"type": S.COMMAND_TYPE_RUN_BAT_SCRIPT}, "InvalidCommandType", "Linux"),
    ],
)
async def test_tasks_that_cannot_run_here_are_invalid(
    harness: Harness, tmp_path: Path, fields: dict[str, object], error_code: str, info: str
) -> None:
    marker = tmp_path / "ran"
    result = await harness.run(shell_task(f"touch {marker}", **fields))
    assert result.status == S.INVOCATION_STATUS_INVALID
    assert result.error_code == error_code
    assert info in result.error_info
    assert not marker.exists()


async def test_dry_run_checks_but_runs_nothing(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = await harness.run(shell_task(f"touch {marker}", dry_run=True, working_dir="/tmp"))
    assert result.status == S.INVOCATION_STATUS_SUCCESS
    assert not marker.exists()
    bad = await harness.run(shell_task(f"touch {marker}", dry_run=True, working_dir="/nope"))
    assert (bad.status, bad.error_code) == (S.INVOCATION_STATUS_INVALID, "DirectoryNotExists")
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
async def test_runs_as_another_user_with_its_environment(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIROS_AGENT_TOKEN", "secret")
    harness = make_harness()  # the runner copies the environment when built
    script = 'id -un; echo "$HOME $USER $LOGNAME"; pwd; echo "token=${KAIROS_AGENT_TOKEN:-}"'
    result = await harness.run(shell_task(script, username="nobody", working_dir="/tmp"))
    assert result.status == S.INVOCATION_STATUS_SUCCESS, result.output
    home = pwd.getpwnam("nobody").pw_dir
    assert result.output == f"nobody\n{home} nobody nobody\n/tmp\ntoken=\n".encode()


async def test_a_script_inherits_no_kairos_variable_and_no_descriptor_of_the_agent(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIROS_AGENT_TOKEN", "secret")
    monkeypatch.setenv("KAIROS_AGENT_TOKEN_FD", "3")
    harness = make_harness()  # the runner copies the environment when built
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)  # as a handed-over token's pipe would be
    try:
        script = 'env | grep -c "^KAIROS_"; echo "$0"; ls /proc/$$/fd'
        result = await harness.run(shell_task(script))
    finally:
        os.close(read_end)
        os.close(write_end)
    count, script_path, *descriptors = result.output.decode().splitlines()
    assert count == "0"
    # stdin, output, the script's descriptor (/dev/fd/N) and the one bash reads it on.
    assert set(descriptors) <= {"0", "1", "2", script_path.rsplit("/", 1)[1], "255"}


async def test_working_dir_is_the_users_home_by_default(harness: Harness) -> None:
    result = await harness.run(shell_task("pwd"))
    assert result.output.decode().strip() == pwd.getpwuid(os.geteuid()).pw_dir


async def test_spawn_failure_is_an_error(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = make_harness(shell=str(tmp_path / "no-such-shell"))
    result = await harness.run(shell_task("true"))
    assert result.status == S.INVOCATION_STATUS_ERROR
    assert result.error_code == "ExecutionException"
    assert "could not be started" in result.error_info
    assert not list(harness.spool.scripts.iterdir())  # the script file is cleaned up


async def test_power_hook_runs_only_after_the_result_is_acked(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    calls = tmp_path / "power-calls"
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$1" >> {calls}\n')
    hook.chmod(0o755)
    harness = make_harness(power_hook=str(hook))
    off = await harness.run(shell_task("exit 193"))
    reboot = await harness.run(shell_task("exit 194"))
    assert (off.status, off.exit_code) == (S.INVOCATION_STATUS_FAILED, 193)
    assert not calls.exists()  # results reported but not yet stored: nothing happens
    harness.executions.on_result_ack(off.execution_id)
    await eventually(lambda: calls.exists() and calls.read_text() == "poweroff\n", "poweroff")
    harness.executions.on_result_ack(reboot.execution_id)
    await eventually(lambda: calls.read_text() == "poweroff\nreboot\n", "reboot")


async def test_a_duplicate_task_is_acked_but_never_run_twice(
    harness: Harness, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    task = shell_task(f"echo run >> {runs}")
    harness.executions.on_task(task)
    harness.executions.on_task(task)  # delivered twice while it runs
    await harness.expect("ack", task.execution_id)
    await harness.expect("ack", task.execution_id)
    first = (await harness.expect("result", task.execution_id)).result
    harness.executions.on_task(task)  # delivered again, result not yet acked: re-sent
    await harness.expect("ack", task.execution_id)
    again = (await harness.expect("result", task.execution_id)).result
    assert again == first
    harness.executions.on_result_ack(task.execution_id)
    harness.executions.on_task(task)  # and again after the ack: only acked
    await harness.expect("ack", task.execution_id)
    probe = await harness.run(shell_task("true"))
    assert probe.status == S.INVOCATION_STATUS_SUCCESS
    later = [m for m in harness.messages if m.WhichOneof("kind") == "result"]
    assert [m.result.execution_id for m in later].count(task.execution_id) == 2
    assert runs.read_text() == "run\n"


async def test_full_queue_refuses_and_stop_cancels_queued(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(max_running=1, max_queued=1)
    running = shell_task("echo go; sleep 300")
    queued = shell_task("echo never")
    refused = shell_task("echo never")
    harness.executions.on_task(running)
    await harness.expect("output", running.execution_id)
    harness.executions.on_task(queued)
    busy = await harness.run(refused)
    assert (busy.status, busy.error_code) == (S.INVOCATION_STATUS_ERROR, "ClientBusy")
    assert "2 tasks" in busy.error_info
    harness.executions.on_stop(queued.execution_id)
    cancelled = (await harness.expect("result", queued.execution_id)).result
    assert cancelled.status == S.INVOCATION_STATUS_CANCELLED
    assert harness.executions.running == 1
    harness.executions.on_stop(running.execution_id)
    terminated = (await harness.expect("result", running.execution_id)).result
    assert terminated.status == S.INVOCATION_STATUS_TERMINATED
    harness.executions.on_stop("e-unknown")  # ignored
    harness.executions.on_stop(running.execution_id)  # finished: ignored
    assert harness.sent.empty()  # on_stop sends synchronously: nothing was sent


async def test_ten_run_at_once(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness()
    tasks = [shell_task("echo up; sleep 300") for _ in range(11)]
    for task in tasks:
        harness.executions.on_task(task)
    for task in tasks[:10]:
        await harness.expect("started", task.execution_id)
    assert harness.executions.running == 10
    harness.executions.on_stop(tasks[0].execution_id)
    await harness.expect("started", tasks[10].execution_id)
