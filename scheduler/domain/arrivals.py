"""Connecting agents, registered many at a time: who is refused, who booted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.models import AgentHello
from scheduler.domain.tenancy import InstanceKey, Tenant


@dataclass(frozen=True)
class Arrival:
    """One agent's checked Hello, in its tenant."""

    tenant: Tenant
    hello: AgentHello
    held: list[str] | None
    """The executions it holds; None for an older agent that does not say."""

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.tenant, self.hello.instance_id)


def is_boot(previous_boot_id: str, boot_id: str) -> bool:
    """Whether a Hello's boot id tells of a new boot. A never-seen instance's first
    connection is not one (its previous boot id is empty), nor is a reconnect."""
    return bool(previous_boot_id) and previous_boot_id != boot_id


def new_per_tenant(created: Sequence[InstanceKey]) -> Counter[Tenant]:
    """How many instance slots each tenant needs for its new instances."""
    return Counter(key.tenant for key in created)


def beyond_quota(created: Sequence[InstanceKey], granted: Mapping[Tenant, int]) -> set[InstanceKey]:
    """The new instances refused: of each tenant's, in order, those past the slots it got."""
    refused: set[InstanceKey] = set()
    taken: Counter[Tenant] = Counter()
    for key in created:
        taken[key.tenant] += 1
        if taken[key.tenant] > granted.get(key.tenant, 0):
            refused.add(key)
    return refused
