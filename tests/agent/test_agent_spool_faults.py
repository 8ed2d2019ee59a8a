"""The agent's own disk fails while a script runs: the script is neither left running
unbounded nor blocked on its pipe (``agent/runner.py``)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from agent.runner import Plan, Runner
from kairos.v1 import agent_pb2, common_pb2

from .agent_harness import eventually


class _Events:
    """What the runner reports while a script runs; ``started`` may fail as a full disk."""

    def __init__(self, *, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.pid = 0

    def started(self, pid: int, process_start: int, at: datetime) -> None:
        self.pid = pid
        if self.fail_start:
            raise OSError(28, "No space left on device")

    def output(self, offset: int, data: bytes) -> None:
        pass


def _plan(runner: Runner, script: bytes, timeout: int) -> Plan:
    plan = runner.prepare(agent_pb2.Task(execution_id="e-1", script=script, timeout=timeout))
    assert isinstance(plan, Plan)
    return plan


async def test_a_full_spool_neither_blocks_the_script_nor_loses_its_result(
    tmp_path: Path,
) -> None:
    runner = Runner(tmp_path)
    # 1 MB fills the pipe many times over: before, the reader died on the first failed
    # write, the script blocked until its timeout and the run raised.
    plan = _plan(runner, b"head -c 1000000 /dev/zero | tr '\\0' x; echo; echo done", 20)
    result = await runner.run(plan, Path("/dev/full"), _Events(), asyncio.Event())
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS
    assert result.output.endswith(b"done\n")


async def test_a_run_whose_start_cannot_be_recorded_leaves_no_script_behind(
    tmp_path: Path,
) -> None:
    runner = Runner(tmp_path)
    events = _Events(fail_start=True)
    with pytest.raises(OSError, match="No space left"):
        await runner.run(_plan(runner, b"sleep 30", 2), tmp_path / "out", events, asyncio.Event())
    assert events.pid
    # Killed, not left running: no live process of its group (a killed one may linger
    # as a zombie until whoever inherited it reaps it).
    await eventually(lambda: not _live_members(events.pid), "the script's group to die")


def _live_members(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that are alive (not zombies)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
