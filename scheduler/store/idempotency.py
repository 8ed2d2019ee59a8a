"""Idempotency keys: the same ``client_token`` and request return the first result.

A key is remembered for ``IDEMPOTENCY_HOURS``: past that it counts as never used (a
new request claims it afresh), and the retention job deletes it (``store.retention``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, bindparam, cast, func, null, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.limits import IDEMPOTENCY_HOURS
from scheduler.domain.tenancy import Tenant
from scheduler.store.tables import idempotency_keys

# Bind parameters; not named like columns, which insert and update keep for themselves.
_account = bindparam("account", type_=String)
_region = bindparam("region", type_=String)
_operation = bindparam("op", type_=String)
_token = bindparam("token", type_=String)

_KEY = (
    idempotency_keys.c.account_id == _account,
    idempotency_keys.c.region_id == _region,
    idempotency_keys.c.operation == _operation,
    idempotency_keys.c.client_token == _token,
)

_new_key = insert(idempotency_keys).values(
    account_id=_account,
    region_id=_region,
    operation=_operation,
    client_token=_token,
    request_hash=bindparam("request", type_=String),
)
# A key past its time is claimed as if it were new; one within it is left as it is.
_CLAIM = _new_key.on_conflict_do_update(
    index_elements=[
        idempotency_keys.c.account_id,
        idempotency_keys.c.region_id,
        idempotency_keys.c.operation,
        idempotency_keys.c.client_token,
    ],
    set_={
        "request_hash": _new_key.excluded.request_hash,
        "response": null(),
        "created_at": func.now(),
    },
    where=idempotency_keys.c.created_at
    < func.now() - func.make_interval(0, 0, 0, 0, IDEMPOTENCY_HOURS),
).returning(idempotency_keys.c.client_token)

_EXISTING = select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(*_KEY)

_RECORD = (
    update(idempotency_keys)
    .where(*_KEY)
    # The response arrives as JSON text: cast, not encoded again as a JSON string.
    .values(response=cast(bindparam("response_json", type_=Text), JSONB))
)


async def previous_response(
    conn: AsyncConnection, tenant: Tenant, operation: str, token: str, request_hash: str
) -> dict[str, Any] | None:
    """Claim ``token`` for this request, or return the response of its first use (within
    ``IDEMPOTENCY_HOURS``; an older use is forgotten and the token claimed anew).

    A concurrent first use holds the key's row lock until it commits, so the
    claim waits for it and then sees its response. The same token with a
    different request is ``ALREADY_EXISTS``.
    """
    keys = _keys(tenant, operation, token)
    claimed = (await conn.execute(_CLAIM, {**keys, "request": request_hash})).first()
    if claimed is not None:
        return None
    row = (await conn.execute(_EXISTING, keys)).one()
    if row.request_hash != request_hash:
        raise KairosError(
            kind=ErrorKind.ALREADY_EXISTS,
            code=RefusalCode.IDEMPOTENT_PARAMETER_MISMATCH,
            message=f"client_token '{token}' was already used for a different {operation} request",
        )
    response: dict[str, Any] = row.response
    return response


async def record_response(
    conn: AsyncConnection, tenant: Tenant, operation: str, token: str, response: str
) -> None:
    """Store the JSON ``response`` of the request that claimed ``token``."""
    await conn.execute(_RECORD, {**_keys(tenant, operation, token), "response_json": response})


def _keys(tenant: Tenant, operation: str, token: str) -> dict[str, str]:
    return {
        "account": tenant.account_id,
        "region": tenant.region_id,
        "op": operation,
        "token": token,
    }
