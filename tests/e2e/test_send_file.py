"""End to end: SendFile to three real agent processes, each on a filesystem of its own.

The agents run on this one machine, so each is started in a mount namespace of its own in
which one shared path (``machine``) is its own directory (``machines/<id>``): the same
``target_dir`` is then three files, as on three machines.
"""

from __future__ import annotations

import grp
import pwd
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psycopg
import pytest
import pytest_asyncio

from kairos.v1 import common_pb2, file_pb2
from scheduler.local import Kairos, kairos_command, until_online
from tests.agent.target_namespaces import skip_reason
from tests.e2e.cluster import START_TIMEOUT, Cluster, finished

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]

AGENTS = ("i-1", "i-2", "i-3")
S = common_pb2


@pytest_asyncio.fixture
async def machines(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A server and agents i-1, i-2, i-3, each seeing ``tmp_path/machine`` as its own
    ``tmp_path/machines/<id>``."""
    cluster = Cluster(root=tmp_path, database_url=database_url)
    shared = tmp_path / "machine"
    shared.mkdir()
    try:
        await cluster.start_server()
        for instance_id in AGENTS:
            own = tmp_path / "machines" / instance_id
            own.mkdir(parents=True)
            agent = [
                "agent",
                "--server",
                cluster.address,
                "--instance-id",
                instance_id,
                "--state-dir",
                str(tmp_path / "agents" / instance_id),
            ]
            cluster.agents[instance_id] = cluster.supervisor.spawn(
                f"agent {instance_id}",
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    'mount --bind "$1" "$2" && shift 2 && exec "$@"',
                    "machine",
                    str(own),
                    str(shared),
                    *kairos_command(agent),
                ],
                tmp_path / f"{instance_id}.log",
            )
        await cluster.supervisor.supervise(
            until_online(cluster.address, list(AGENTS), START_TIMEOUT)
        )
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())


async def send(kairos: Kairos, target_dir: Path, **fields: object) -> str:
    response: file_pb2.SendFileResponse = await kairos.files.SendFile(
        file_pb2.SendFileRequest(
            instance_ids=list(AGENTS),
            name="app.conf",
            target_dir=str(target_dir),
            **fields,  # type: ignore[arg-type]
        )
    )
    invoke_id: str = response.invoke_id
    await finished(kairos, invoke_id)
    return invoke_id


async def file_results(kairos: Kairos, invoke_id: str) -> file_pb2.SendFileInvocation:
    response: file_pb2.DescribeSendFileResultsResponse = await kairos.files.DescribeSendFileResults(
        file_pb2.DescribeSendFileResultsRequest(invoke_id=invoke_id)
    )
    task: file_pb2.SendFileInvocation
    [task] = response.invocations
    return task


async def test_the_file_is_written_on_each_instance_with_mode_owner_and_group(
    machines: Cluster, tmp_path: Path
) -> None:
    kairos = machines.client()
    target = tmp_path / "machine" / "etc" / "app"
    invoke_id = await send(
        kairos,
        target,
        content="port=8080\n",
        file_mode="0640",
        file_owner="nobody",
        file_group="nogroup",
    )
    task = await file_results(kairos, invoke_id)
    assert task.invocation_status == S.INVOCATION_STATUS_SUCCESS, task
    assert [i.invocation_status for i in task.instances] == [S.INVOCATION_STATUS_SUCCESS] * 3
    for instance_id in AGENTS:
        path = tmp_path / "machines" / instance_id / "etc" / "app" / "app.conf"
        assert path.read_text() == "port=8080\n"
        status = path.stat()
        assert stat.S_IMODE(status.st_mode) == 0o640
        assert status.st_uid == pwd.getpwnam("nobody").pw_uid
        assert status.st_gid == grp.getgrnam("nogroup").gr_gid
    # Written into each agent's own filesystem, not the shared path seen from here.
    assert list((tmp_path / "machine").iterdir()) == []


async def test_no_overwrite_fails_only_where_the_file_exists(
    machines: Cluster, tmp_path: Path
) -> None:
    kairos = machines.client()
    existing = tmp_path / "machines" / "i-2" / "app.conf"
    existing.write_text("keep me\n")
    invoke_id = await send(kairos, tmp_path / "machine", content="new\n")
    task = await file_results(kairos, invoke_id)
    by_instance = {i.instance_id: i for i in task.instances}
    assert (by_instance["i-2"].invocation_status, by_instance["i-2"].error_code) == (
        S.INVOCATION_STATUS_FAILED,
        "FileExist",
    )
    for instance_id in ("i-1", "i-3"):
        assert by_instance[instance_id].invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert (tmp_path / "machines" / instance_id / "app.conf").read_text() == "new\n"
    assert existing.read_text() == "keep me\n"
    assert task.invocation_status == S.INVOCATION_STATUS_FAILED


async def test_readers_never_see_a_partial_file(machines: Cluster, tmp_path: Path) -> None:
    kairos = machines.client()
    old, new = "a" * 24_000, "b" * 24_000
    paths = [tmp_path / "machines" / instance_id / "app.conf" for instance_id in AGENTS]
    for path in paths:
        path.write_text(old)
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for path in paths:
                seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        invoke_id = await send(kairos, tmp_path / "machine", content=new, overwrite=True)
    finally:
        done.set()
        reader.join()
    assert (await file_results(kairos, invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_SUCCESS
    )
    assert seen <= {old, new}
    assert all(path.read_text() == new for path in paths)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "../app.conf"}, "InvalidParam.FileName"),
        ({"target_dir": "etc/app"}, "InvalidParam.TargetDir"),
        ({"content": "x" * 24_577}, "InvalidParam.Content"),
    ],
)
async def test_a_bad_file_is_refused_before_anything_is_stored(
    machines: Cluster, database_url: str, tmp_path: Path, fields: dict[str, str], code: str
) -> None:
    kairos = machines.client()
    request = file_pb2.SendFileRequest(
        instance_ids=list(AGENTS),
        name="app.conf",
        target_dir=str(tmp_path / "machine"),
        content="x",
    )
    for name, value in fields.items():  # the one bad field
        setattr(request, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await kairos.files.SendFile(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.value.details() or "").startswith(f"{code}: ")
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT (SELECT count(*) FROM invocations) + (SELECT count(*) FROM send_files) "
            "+ (SELECT count(*) FROM executions)"
        ).fetchone()
    assert stored == (0,)
    assert list((tmp_path / "machines").glob("*/*")) == []
