"""The server deletes old history by itself: its ticker role runs the retention job."""

import asyncio
import time

from sqlalchemy import text

from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.server.config import ServerRole
from scheduler.store.database import create_engine
from tests.integration.seed import add_command, add_instance, add_invocation
from tests.service.conftest import ServerFactory

LEFT = text(
    "SELECT (SELECT count(*) FROM invocations) + (SELECT count(*) FROM executions)"
    " + (SELECT count(*) FROM idempotency_keys)"
)


async def test_a_server_with_the_ticker_role_deletes_what_is_past_retention(
    servers: ServerFactory, database_url: str
) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-1")
        await add_invocation(
            conn, "t-old", ["i-1"], status=InvocationStatus.SUCCESS, repeat_mode=RepeatMode.ONCE
        )
        await conn.execute(
            text(
                "INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,"
                " scheduled_at, repeat, status, script, finished_at)"
                " SELECT 'e-old', account_id, region_id, id, 'i-1', now() - interval '30 days',"
                " 1, 'Success', ''::bytea, now() - interval '30 days' FROM invocations"
            )
        )
        await conn.execute(text("UPDATE invocations SET created_at = now() - interval '30 days'"))
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (account_id, region_id, operation, client_token,"
                " request_hash, created_at) VALUES ('account', 'region', 'RunCommand', 'old',"
                " 'h', now() - interval '25 hours')"
            )
        )
        assert await conn.scalar(LEFT) == 3

    await servers.start(roles=frozenset({ServerRole.TICKER}))
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                if await conn.scalar(LEFT) == 0:
                    return
            await asyncio.sleep(0.1)
        raise AssertionError("the retention job deleted nothing within 20 s")
    finally:
        await engine.dispose()
