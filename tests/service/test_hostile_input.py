"""Hostile and broken requests: refused with the field named, never UNKNOWN, nothing stored."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from kairos.v1 import command_pb2, common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import OsType
from scheduler.domain.limits import Limits
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.local import Kairos, connect
from scheduler.store.database import create_engine, database_url
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.refusals import refused, violations

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
Code = grpc.StatusCode
NUL = "\x00"

# A valid cron (60 s apart at the closest) longer than the 256 characters a frequency may have.
LONG_CRON = (
    "0 "
    + ",".join(str(m) for m in range(60))
    + " "
    + ",".join(str(h) for h in range(24))
    + " "
    + ",".join(str(d) for d in range(1, 32))
    + " * ?"
)


def run_request(**fields: Any) -> invocation_pb2.RunCommandRequest:
    values: dict[str, Any] = {"type": SHELL, "command_content": "true", "instance_ids": ["i-1"]}
    values.update(fields)
    return invocation_pb2.RunCommandRequest(**values)


async def stored(kairos: Kairos) -> tuple[int, int]:
    """How many commands and invocations the account has."""
    commands = await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    invocations = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    return commands.total_count, invocations.total_count


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": f"a{NUL}b", "keep_command": True}, "name"),
        ({"description": f"x{NUL}"}, "description"),
        ({"command_content": f"echo {NUL}"}, "command_content"),
        ({"working_dir": f"/tmp{NUL}"}, "working_dir"),
        ({"username": f"root{NUL}"}, "username"),
        ({"instance_ids": ["i-1", f"i-{NUL}2"]}, "instance_ids"),
        ({"client_token": f"t{NUL}"}, "client_token"),
    ],
)
async def test_a_nul_character_is_refused_naming_the_field(
    kairos: Kairos, peers: list[Peer], fields: dict[str, Any], field: str
) -> None:
    before = await stored(kairos)
    refusal = await refused(kairos.invocations.RunCommand(run_request(**fields)))
    assert refusal.status == Code.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_NUL_CHARACTER
    assert [name for name, _ in violations(refusal)] == [field]
    assert await stored(kairos) == before


async def test_a_nul_in_a_parameter_value_or_a_filter_is_refused(
    kairos: Kairos, peers: list[Peer]
) -> None:
    refusal = await refused(
        kairos.invocations.RunCommand(
            run_request(
                command_content="echo {{who}}", enable_parameter=True, parameters={"who": NUL}
            )
        )
    )
    assert violations(refusal)[0][0] == "parameters[who]"
    refusal = await refused(
        kairos.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(instance_id=f"i-{NUL}")
        )
    )
    assert (refusal.status, violations(refusal)[0][0]) == (Code.INVALID_ARGUMENT, "instance_id")
    refusal = await refused(
        kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest(name=NUL))
    )
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_NUL_CHARACTER


async def test_a_frequency_longer_than_its_column_is_an_invalid_argument(
    kairos: Kairos, peers: list[Peer]
) -> None:
    assert len(LONG_CRON) > 256
    before = await stored(kairos)
    refusal = await refused(
        kairos.invocations.RunCommand(
            run_request(repeat_mode=common_pb2.REPEAT_MODE_PERIOD, frequency=LONG_CRON)
        )
    )
    assert refusal.status == Code.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_FREQUENCY
    assert violations(refusal) == [
        ("frequency", f"frequency is {len(LONG_CRON)} characters long; the limit is 256")
    ]
    assert await stored(kairos) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"repeat_mode": 99}, "repeat_mode"),
        ({"content_encoding": 7}, "content_encoding"),
        ({"type": 42}, "type"),
    ],
)
async def test_an_unknown_enum_value_is_refused_not_read_as_unspecified(
    kairos: Kairos, peers: list[Peer], fields: dict[str, Any], field: str
) -> None:
    before = await stored(kairos)
    refusal = await refused(kairos.invocations.RunCommand(run_request(**fields)))
    assert refusal.status == Code.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_ENUM
    assert [name for name, _ in violations(refusal)] == [field]
    assert await stored(kairos) == before


async def test_an_unknown_status_filter_is_refused(kairos: Kairos) -> None:
    refusal = await refused(
        kairos.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(invocation_status=77)  # type: ignore[arg-type]
        )
    )
    assert (refusal.info.reason, violations(refusal)[0][0]) == (
        RefusalCode.INVALID_PARAM_ENUM,
        "invocation_status",
    )


async def test_empty_ids_are_missing_parameters(kairos: Kairos, peers: list[Peer]) -> None:
    # One invocation exists: an empty id must not find it (WatchInvocation used to).
    await kairos.invocations.RunCommand(run_request())
    calls = {
        "invoke_id": [
            kairos.invocations.StopInvocation(invocation_pb2.StopInvocationRequest()),
            kairos.invocations.DescribeInvocationResults(
                invocation_pb2.DescribeInvocationResultsRequest()
            ),
        ],
        "command_id": [
            kairos.invocations.InvokeCommand(
                invocation_pb2.InvokeCommandRequest(instance_ids=["i-1"])
            ),
            kairos.commands.ModifyCommand(command_pb2.ModifyCommandRequest(name="x")),
            kairos.commands.DeleteCommand(command_pb2.DeleteCommandRequest()),
        ],
    }
    for field, field_calls in calls.items():
        for call in field_calls:
            refusal = await refused(call)
            assert refusal.status == Code.INVALID_ARGUMENT
            assert refusal.info.reason == RefusalCode.MISSING_PARAMETER
            assert violations(refusal) == [(field, f"{field} is required")]


async def test_watching_an_empty_invoke_id_is_refused(kairos: Kairos, peers: list[Peer]) -> None:
    await kairos.invocations.RunCommand(run_request())
    call = kairos.invocations.WatchInvocation(invocation_pb2.WatchInvocationRequest())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == Code.INVALID_ARGUMENT
    assert raised.value.details() == "MissingParameter: invoke_id is required"


async def test_an_unexpected_database_error_is_internal_with_a_request_id_and_no_sql(
    kairos: Kairos, servers: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(servers.url)
    async with engine.begin() as conn:
        # Not a state Kairos can reach by itself: a schema an operator broke by hand.
        await conn.execute(text("ALTER TABLE commands RENAME COLUMN description TO gone"))
    await engine.dispose()
    secret = "s3cret-token-in-a-script"
    with caplog.at_level(logging.ERROR, logger="scheduler.rpc.interceptor"):
        refusal = await refused(
            kairos.commands.CreateCommand(
                command_pb2.CreateCommandRequest(
                    name="n", type=SHELL, command_content=f"echo {secret}"
                )
            )
        )
    assert refusal.status == Code.INTERNAL
    assert refusal.info.reason == RefusalCode.INTERNAL_ERROR
    assert refusal.message.startswith("InternalError: internal error (request id ")
    assert "INSERT" not in refusal.message and secret not in refusal.message
    [record] = [r for r in caplog.records if r.name == "scheduler.rpc.interceptor"]
    assert str(getattr(record, "request_id", "missing")) in refusal.message
    logged = caplog.text
    assert secret not in logged, "statement parameters must never be logged"


async def test_an_unreachable_database_is_unavailable(
    kairos: Kairos, servers: ServerFactory
) -> None:
    url = make_url(database_url(servers.url))
    database = url.database
    admin = create_engine(url.set(database="postgres").render_as_string(hide_password=False))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"
            ),
            {"database": database},
        )
    try:
        refusal = await refused(
            kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
        )
        assert refusal.status == Code.UNAVAILABLE
        assert refusal.info.reason == RefusalCode.SERVICE_UNAVAILABLE
        assert "request id" in refusal.message
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        await admin.dispose()
    # And it is served again once the database is back.
    await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())


async def test_a_run_on_hundreds_of_instances_with_long_ids_is_dispatched(
    servers: ServerFactory,
) -> None:
    # 400 ids of 22 characters: one comma-joined NOTIFY would exceed PostgreSQL's 8000 bytes.
    instance_ids = [f"i-{n:020d}" for n in range(400)]
    engine = create_engine(servers.url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(instances),
            [
                {
                    "id": instance_id,
                    "account_id": DEFAULT_TENANT.account_id,
                    "region_id": DEFAULT_TENANT.region_id,
                    "os_type": OsType.LINUX.value,
                }
                for instance_id in instance_ids
            ],
        )
    await engine.dispose()
    kairos = connect(await servers.start(limits=Limits(max_instances_per_call=500)))
    response = await kairos.invocations.RunCommand(run_request(instance_ids=instance_ids))
    results = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(
            invoke_id=response.invoke_id, max_results=50
        )
    )
    assert results.total_count == 400
    assert {r.invocation_status for r in results.results} == {common_pb2.INVOCATION_STATUS_PENDING}
