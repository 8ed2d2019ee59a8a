"""Idempotency keys: the same ``client_token`` and request return the first result."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import Tenant

_CLAIM = text(
    """
    INSERT INTO idempotency_keys (account_id, region_id, operation, client_token, request_hash)
    VALUES (:account_id, :region_id, :operation, :client_token, :request_hash)
    ON CONFLICT DO NOTHING
    RETURNING client_token
    """
)

_EXISTING = text(
    """
    SELECT request_hash, response FROM idempotency_keys
    WHERE account_id = :account_id AND region_id = :region_id
      AND operation = :operation AND client_token = :client_token
    """
)

_RECORD = text(
    """
    UPDATE idempotency_keys SET response = CAST(:response AS jsonb)
    WHERE account_id = :account_id AND region_id = :region_id
      AND operation = :operation AND client_token = :client_token
    """
)


async def previous_response(
    conn: AsyncConnection, tenant: Tenant, operation: str, token: str, request_hash: str
) -> dict[str, Any] | None:
    """Claim ``token`` for this request, or return the response of its first use.

    A concurrent first use holds the key's row lock until it commits, so the
    claim waits for it and then sees its response. The same token with a
    different request is ``ALREADY_EXISTS``.
    """
    keys = {
        "account_id": tenant.account_id,
        "region_id": tenant.region_id,
        "operation": operation,
        "client_token": token,
    }
    claimed = (await conn.execute(_CLAIM, {**keys, "request_hash": request_hash})).first()
    if claimed is not None:
        return None
    row = (await conn.execute(_EXISTING, keys)).one()
    if row.request_hash != request_hash:
        raise KairosError(
            ErrorKind.ALREADY_EXISTS,
            "IdempotentParameterMismatch",
            f"client_token '{token}' was already used for a different {operation} request",
        )
    response: dict[str, Any] = row.response
    return response


async def record_response(
    conn: AsyncConnection, tenant: Tenant, operation: str, token: str, response: str
) -> None:
    """Store the JSON ``response`` of the request that claimed ``token``."""
    await conn.execute(
        _RECORD,
        {
            "account_id": tenant.account_id,
            "region_id": tenant.region_id,
            "operation": operation,
            "client_token": token,
            "response": response,
        },
    )
