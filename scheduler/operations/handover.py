"""Handing new executions straight to the agents this replica holds.

A call that creates executions (RunCommand, InvokeCommand) runs in the same
process as a dispatcher when the replica has both roles. For the instances whose
agents that dispatcher holds, the call marks the executions sent in its own
transaction and, once it has committed, puts their tasks in the agents'
outboxes: no notice, no second reading of what the call just wrote. The other
instances' executions are announced as usual (``notices.send_dispatch``) to the
replicas that hold them.

The operations only see this port; the dispatcher implements it
(``dispatcher.handover``) and the server wires it in (``Context.agents``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from scheduler.domain.tenancy import Tenant
from scheduler.store.dispatch import TaskView


class Reservation(Protocol):
    """Agents held here, with room for a task, reserved before a call's transaction."""

    @property
    def instance_ids(self) -> frozenset[str]:
        """The reserved instances: their new executions are marked sent as they are created."""

    def hand_over(self, tasks: Sequence[TaskView]) -> None:
        """The transaction committed: send these tasks (of reserved instances only).

        Never waits. A task that no longer fits, or whose agent reconnected
        meanwhile, is read again from the database like any task left out.
        """

    def release(self) -> None:
        """Nothing is handed over (the call failed or created nothing to run)."""


class HeldAgents(Protocol):
    """The agent streams of this process's dispatcher."""

    def reserve(self, tenant: Tenant, instance_ids: Sequence[str]) -> Reservation:
        """Reserve the tenant's instances among ``instance_ids`` whose agents are held here."""


class _Nothing:
    instance_ids: frozenset[str] = frozenset()

    def hand_over(self, tasks: Sequence[TaskView]) -> None:
        if tasks:
            raise AssertionError("tasks handed over without a reservation")

    def release(self) -> None:
        pass


class NoAgents:
    """A process without the dispatcher role: every execution is announced by notice."""

    def reserve(self, tenant: Tenant, instance_ids: Sequence[str]) -> Reservation:
        return _Nothing()


NO_AGENTS: HeldAgents = NoAgents()
