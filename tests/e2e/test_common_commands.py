"""Every common command (issue 13, item 4) run by a real agent on this machine: for real
where that harms nothing, as a dry run otherwise; each ends with a meaningful status."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import Kairos
from tests.e2e.cluster import Cluster, finished, results, running_cluster

pytestmark = pytest.mark.e2e

S = common_pb2
DAY = 86_400
SYSTEMD = Path("/run/systemd/system").is_dir()
"""systemd runs this machine (scripts then take their systemctl paths)."""


@pytest_asyncio.fixture
async def kairos(database_url: str, tmp_path: Path) -> AsyncIterator[Kairos]:
    """A server and one agent, i-1, running scripts on this machine."""
    async with running_cluster(
        tmp_path / "cluster", database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        yield Cluster.client(cluster)


async def run(
    kairos: Kairos, command_id: str, **parameters: str
) -> invocation_pb2.InvocationResult:
    """Invoke a common command on i-1 and return its result once it has ended."""
    response = await kairos.invocations.InvokeCommand(
        invocation_pb2.InvokeCommandRequest(
            command_id=command_id, instance_ids=["i-1"], parameters=parameters
        )
    )
    await finished(kairos, response.invoke_id)
    return (await results(kairos, response.invoke_id))["i-1"]


def assert_ended(
    result: invocation_pb2.InvocationResult, status: int, exit_code: int, *needles: bytes
) -> None:
    assert (result.invocation_status, result.exit_code) == (status, exit_code), result.output
    for needle in needles:
        assert needle in result.output, result.output


async def test_check_disk_space(kairos: Kairos) -> None:
    # Any filesystem is used at 1 % or more, and none above 100 %.
    full = await run(kairos, "Kairos-CheckDiskSpace", threshold="1")
    assert_ended(full, S.INVOCATION_STATUS_FAILED, 1, b"FAIL: ", b"at or above the threshold of 1%")
    assert full.error_code == "ExitCodeNonzero"
    room = await run(kairos, "Kairos-CheckDiskSpace", threshold="100", path="/tmp")
    assert_ended(room, S.INVOCATION_STATUS_SUCCESS, 0, b"OK: ", b"(holding /tmp)")
    dry = await run(kairos, "Kairos-CheckDiskSpace", threshold="1", dryRun="true")
    assert_ended(dry, S.INVOCATION_STATUS_SUCCESS, 0, b"FAIL: ", b"dry run: would exit 1")
    missing = await run(kairos, "Kairos-CheckDiskSpace", path="/no/such/path")
    assert_ended(missing, S.INVOCATION_STATUS_FAILED, 2, b"/no/such/path does not exist")


async def test_collect_diagnostics(kairos: Kairos) -> None:
    result = await run(kairos, "Kairos-CollectDiagnostics", kernelErrorLines="5")
    assert_ended(
        result,
        S.INVOCATION_STATUS_SUCCESS,
        0,
        b"== os ==",
        b"== load ==",
        b"== memory ==",
        b"== disks ==",
        b"== failed units ==",
        b"== kernel errors (last 5) ==",
        os.uname().release.encode(),
    )
    if not SYSTEMD:
        # This machine is not run by systemd: the section says so and the script goes on.
        assert b"not available: systemd does not run this machine" in result.output
    dry = await run(kairos, "Kairos-CollectDiagnostics", dryRun="true")
    assert_ended(dry, S.INVOCATION_STATUS_SUCCESS, 0, b"dry run: would print")
    assert b"== os ==" not in dry.output


async def test_cleanup_logs(kairos: Kairos, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "app").mkdir(parents=True)
    outside = tmp_path / "outside.log"
    old = [logs / "old.log", logs / "app" / "older.log"]
    kept = [logs / "new.log", logs / "old.txt", outside]
    for path in old + kept:
        path.write_text("x\n")
    now = time.time()
    for path in [*old, logs / "old.txt", outside]:
        os.utime(path, (now - 40 * DAY, now - 40 * DAY))
    # A symbolic link is never followed: the old file it names is outside the directory.
    (logs / "link.log").symlink_to(outside)

    dry = await run(
        kairos, "Kairos-CleanupLogs", path=str(logs), age="30", pattern="*.log", dryRun="true"
    )
    assert_ended(dry, S.INVOCATION_STATUS_SUCCESS, 0, b"dry run: would delete 2 file(s)")
    assert all(path.exists() for path in old + kept)
    assert str(old[0]).encode() in dry.output and str(old[1]).encode() in dry.output

    done = await run(kairos, "Kairos-CleanupLogs", path=str(logs), age="30", pattern="*.log")
    assert_ended(done, S.INVOCATION_STATUS_SUCCESS, 0, b"deleting 2 file(s)", b"done")
    assert [path.exists() for path in old] == [False, False]
    assert all(path.exists() for path in kept)
    assert (logs / "link.log").is_symlink()

    missing = await run(kairos, "Kairos-CleanupLogs", path=str(tmp_path / "none"))
    assert_ended(missing, S.INVOCATION_STATUS_FAILED, 2, b"is not a directory")


async def test_update_packages(kairos: Kairos) -> None:
    # Never a real upgrade of this machine: a dry run simulates with the package lists.
    dry = await run(kairos, "Kairos-UpdatePackages", dryRun="true")
    assert_ended(dry, S.INVOCATION_STATUS_SUCCESS, 0, b"package manager: ", b"reboot needed: ")
    security = await run(kairos, "Kairos-UpdatePackages", dryRun="true", securityOnly="true")
    assert_ended(security, S.INVOCATION_STATUS_SUCCESS, 0, b"security updates only")
    # For real, as a user who may not upgrade: refused by the script, nothing changed.
    response = await kairos.invocations.InvokeCommand(
        invocation_pb2.InvokeCommandRequest(
            command_id="Kairos-UpdatePackages", instance_ids=["i-1"], username="nobody"
        )
    )
    await finished(kairos, response.invoke_id)
    as_nobody = (await results(kairos, response.invoke_id))["i-1"]
    assert_ended(as_nobody, S.INVOCATION_STATUS_FAILED, 2, b"upgrading packages needs root")


@pytest.fixture
def init_script(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A harmless service of this test's own in /etc/init.d: its restart appends to a file."""
    if SYSTEMD:
        pytest.skip("systemd runs this machine: an /etc/init.d script is no unit of its own")
    if not os.access("/etc/init.d", os.W_OK):
        pytest.skip("/etc/init.d is not writable here: no service of the test's own")
    name = f"kairos-test-{os.getpid()}"
    marker = tmp_path / "restarts"
    script = Path("/etc/init.d") / name
    script.write_text(f'#!/bin/sh\necho "$1" >> {marker}\n')
    script.chmod(0o755)
    try:
        yield name, marker
    finally:
        script.unlink()


async def test_restart_service(kairos: Kairos, init_script: tuple[str, Path]) -> None:
    name, marker = init_script
    dry = await run(kairos, "Kairos-RestartService", serviceName=name, dryRun="true")
    assert_ended(dry, S.INVOCATION_STATUS_SUCCESS, 0, f"dry run: would restart {name}".encode())
    assert not marker.exists()
    done = await run(kairos, "Kairos-RestartService", serviceName=name)
    assert_ended(done, S.INVOCATION_STATUS_SUCCESS, 0, f"restarted {name}".encode())
    assert marker.read_text() == "restart\n"
    missing = await run(kairos, "Kairos-RestartService", serviceName="kairos-no-such-service")
    assert_ended(missing, S.INVOCATION_STATUS_FAILED, 2, b"no service kairos-no-such-service")
