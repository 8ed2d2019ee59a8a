"""The fleet benchmark's instrument, end to end against its bare server (no database: fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.fleet_bench import Server, Trial, parse
from bench.fleet_sim import Fleet, instance_ids
from scheduler.local import Supervisor, connect, free_port, until_serving

AGENTS = 20
PER_CONNECTION = 8  # three connections, the last one partly filled


async def test_the_fleet_drives_the_bare_server_through_every_phase(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", grace=5)
    listen = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "bench.fleet_bare", "--listen", listen]
    process = supervisor.spawn("bare", command, tmp_path / "bare.log", address=listen)
    fleet = Fleet(listen, instance_ids(AGENTS), per_connection=PER_CONNECTION)
    trial = Trial(Server(name="bare", process=process), fleet, connect(listen))
    try:
        await supervisor.supervise(until_serving(listen, 30))
        connected = await supervisor.supervise(fleet.connect())
        single = await supervisor.supervise(trial.loop(per_call=1, callers=1, calls=3))
        loop = await supervisor.supervise(trial.loop(per_call=AGENTS, callers=2, calls=4))
        storm = await supervisor.supervise(fleet.reconnect_storm())
        after = await supervisor.supervise(trial.loop(per_call=5, callers=1, calls=4))
        await trial.check("all phases")
    finally:
        await fleet.drop()
        await trial.api.channel.close()
        supervisor.stop_all()
    assert not connected.refused and not storm.refused and not fleet.lost
    assert (single.executions, loop.executions, after.executions) == (3, 4 * AGENTS, 20)
    assert loop.invoke_to_start.n == 4 * AGENTS  # every task's arrival was timed
    assert len(fleet.seen) == 3 + 4 * AGENTS + 20 and fleet.duplicates == 0
    assert trial.checks[-1].failures() == []


def test_quick_mode_fills_in_short_phases_and_flags_are_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    quick = parse(["--quick"])
    assert (quick.agents, quick.loop_seconds, quick.single_calls) == ([100], 5.0, 20)
    assert parse(["--agents", "1000,10000"]).agents == [1000, 10000]
    for wrong, words in (
        (["--agents", "0"], "--agents: every fleet size must be at least 1"),
        (["--callers", "0"], "--callers must be at least 1"),
        (["--loop-seconds", "0"], "--loop-seconds must be more than 0 seconds"),
    ):
        with pytest.raises(SystemExit):
            parse(wrong)
        assert words in capsys.readouterr().err
    assert parse([]).agents == [1000]  # what `make bench` runs
