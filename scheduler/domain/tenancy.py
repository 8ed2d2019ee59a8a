"""Who is calling: the tenant (account and region) and the role of its token."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from scheduler.domain.enums import Role

MAX_TENANT_ID = 64
"""The longest account or region id, in characters: their columns' length in every table."""


@dataclass(frozen=True)
class Tenant:
    """The scope every resource belongs to; nothing crosses it."""

    account_id: str
    region_id: str


@dataclass(frozen=True)
class InstanceKey:
    """One instance: its id is the agent's choice, unique only within its tenant."""

    tenant: Tenant
    instance_id: str


DEFAULT_TENANT = Tenant(account_id="default", region_id="local")
"""The single tenant of a server running without an auth file."""


def tenant_id_problem(value: str) -> str | None:
    """What keeps ``value`` from being an account or region id, as words to follow its
    name ("is blank"); None if nothing does.

    An id fits its columns, is not blank, and holds no control character: PostgreSQL
    text cannot hold NUL, and the others would garble the messages and log lines that
    name the tenant.
    """
    if not value.strip():
        return "is blank"
    if len(value) > MAX_TENANT_ID:
        return f"is {len(value)} characters; the limit is {MAX_TENANT_ID}"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return "holds a control character"
    return None


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    tenant: Tenant
    roles: frozenset[Role]
    instance_id: str | None = None
    """The one instance an instance credential speaks for; None for an auth file's token
    (or open access), which speaks for any instance of its tenant but a managed one."""
