"""End to end: a real server process, real agent processes, real shell scripts."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import Cluster, finished, output_seen, results

pytestmark = pytest.mark.e2e

S = common_pb2
SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT


def run(script: str, *instances: str, **fields: object) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=SHELL,
        command_content=script,
        instance_ids=list(instances or ("i-1",)),
        **fields,  # type: ignore[arg-type]
    )


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs: absent, or a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    # The state letter follows the parenthesised command name.
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


async def test_success_with_output_on_three_agents(cluster: Cluster) -> None:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(
        run(
            "echo out {{ACS::InstanceId}} {{who}}; echo err >&2",
            "i-1",
            "i-2",
            "i-3",
            enable_parameter=True,
            parameters={"who": "world"},
        )
    )
    end = await finished(kairos, response.invoke_id)
    assert end["status"] == S.INVOCATION_STATUS_SUCCESS
    by_instance = await results(kairos, response.invoke_id)
    for instance_id in ("i-1", "i-2", "i-3"):
        result = by_instance[instance_id]
        assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert result.exit_code == 0
        assert result.output == f"out {instance_id} world\nerr\n".encode()
        assert end["output"][instance_id] == result.output
        assert result.start_time.ToDatetime() <= result.finish_time.ToDatetime()


async def test_non_zero_exit_is_failed(cluster: Cluster) -> None:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run("echo bad; exit 3"))
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_FAILED
    assert (result.exit_code, result.error_code) == (3, "ExitCodeNonzero")


async def test_timeout_kills_the_whole_process_tree(cluster: Cluster, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! > {pids}; echo $$ >> {pids}; sleep 300"
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run(script, timeout=10))
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert (result.invocation_status, result.error_code) == (
        S.INVOCATION_STATUS_TIMEOUT,
        "ExecutionTimeout",
    )
    for pid in map(int, pids.read_text().split()):
        assert process_gone(pid), f"process {pid} of the timed-out script survived"


async def test_stop_terminates_a_running_script(cluster: Cluster) -> None:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run("echo started; sleep 300"))
    await output_seen(kairos, response.invoke_id, b"started")
    await kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=response.invoke_id)
    )
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_STOPPED
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_TERMINATED
    assert result.output.startswith(b"started")


async def test_killed_agent_aborts_after_the_delivery_timeout(cluster: Cluster) -> None:
    cluster.agents["i-3"].kill()
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run("echo never", "i-3"))
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, response.invoke_id))["i-3"]
    assert result.invocation_status == S.INVOCATION_STATUS_ABORTED
    assert result.error_code == "ClientNotResponse"


async def test_result_spooled_across_a_server_restart_is_recorded_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    gate = tmp_path / "gate"
    # The script waits for the gate, so it finishes while the server is down.
    script = (
        f"echo run >> {runs}; echo waiting; while [ ! -e {gate} ]; do sleep 0.05; done; echo done"
    )
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run(script))
    await output_seen(kairos, response.invoke_id, b"waiting")
    assert cluster.server is not None
    cluster.server.kill()
    gate.touch()
    await cluster.start_server()
    kairos = cluster.client()
    end = await finished(kairos, response.invoke_id)
    assert end["status"] == S.INVOCATION_STATUS_SUCCESS
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.output == b"waiting\ndone\n"
    assert runs.read_text() == "run\n"
    history = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(
            invoke_id=response.invoke_id, include_history=True
        )
    )
    assert history.total_count == 1


async def test_agent_killed_mid_run_reports_client_restarted(cluster: Cluster) -> None:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(run("echo partial; sleep 300", "i-2"))
    await output_seen(kairos, response.invoke_id, b"partial")
    cluster.agents["i-2"].kill()
    await cluster.start_agent("i-2")
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, response.invoke_id))["i-2"]
    assert (result.invocation_status, result.error_code) == (
        S.INVOCATION_STATUS_ERROR,
        "ClientRestarted",
    )
    assert result.output.startswith(b"partial")


async def test_bad_input_is_rejected_and_nothing_runs(cluster: Cluster) -> None:
    kairos = cluster.client()
    cases = [
        (run("echo x", "i-1", "i-missing"), grpc.StatusCode.NOT_FOUND),
        (
            run("echo {{x}}", parameters={"y": "1"}, enable_parameter=True),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (run("echo x", timeout=5), grpc.StatusCode.INVALID_ARGUMENT),
        (run("x" * 20_000), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for request, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await kairos.invocations.RunCommand(request)
        assert raised.value.code() == code
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_dry_run_checks_on_the_agent_and_runs_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(
        run(f"touch {marker}", repeat_mode=S.REPEAT_MODE_DRY_RUN, working_dir=str(tmp_path))
    )
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_SUCCESS
    assert not marker.exists()
    response = await kairos.invocations.RunCommand(
        run(
            f"touch {marker}",
            repeat_mode=S.REPEAT_MODE_DRY_RUN,
            working_dir=str(tmp_path / "missing"),
        )
    )
    assert (await finished(kairos, response.invoke_id))["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert (result.invocation_status, result.error_code) == (
        S.INVOCATION_STATUS_INVALID,
        "DirectoryNotExists",
    )
    assert not marker.exists()
