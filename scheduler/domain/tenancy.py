"""Who is calling: the tenant (account and region) and the role of its token."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.enums import Role


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


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    tenant: Tenant
    roles: frozenset[Role]
    instance_id: str | None = None
    """The one instance an instance credential speaks for; None for an auth file's token
    (or open access), which speaks for any instance of its tenant but a managed one."""
