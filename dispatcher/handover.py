"""New executions handed straight to the agents this replica holds (``operations.handover``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from dispatcher.session import AgentSession
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.observability import metrics
from scheduler.store.dispatch import TaskView


class SessionReservation:
    """Agents reserved for one call: each session with the mark of the reading it stands for.

    The call's transaction stands for a reading of the agents' work: a mark taken
    before it keeps each session from forgetting what it sent meanwhile (see
    ``AgentSession``), exactly as a reading from the database would.
    """

    def __init__(
        self,
        tenant: Tenant,
        reserved: dict[str, tuple[AgentSession, int]],
        sessions: Mapping[InstanceKey, AgentSession],
        refill: Callable[[AgentSession], None],
    ) -> None:
        self._tenant = tenant
        self._reserved = reserved
        self._sessions = sessions
        self._refill = refill
        self.instance_ids = frozenset(reserved)

    def hand_over(self, tasks: Sequence[TaskView]) -> None:
        by_instance: dict[str, list[TaskView]] = defaultdict(list)
        for task in tasks:
            by_instance[task.instance.instance_id].append(task)
        for instance_id, (session, mark) in self._reserved.items():
            current = self._sessions.get(InstanceKey(self._tenant, instance_id))
            if current is session:
                # What does not fit is read again once the outbox drains (``wants_work``).
                session.offer(by_instance[instance_id], as_of=mark, complete=False)
                metrics.handed_over_tasks.inc(len(by_instance[instance_id]))
                continue
            # The agent reconnected (or left) meanwhile: the new stream may have read its
            # work before the call committed, so it reads it again; a gone one reads it
            # when it is back. Marked sent, the tasks are not announced by any notice.
            session.unmark(mark)
            if current is not None and by_instance[instance_id]:
                self._refill(current)
        self._reserved = {}

    def release(self) -> None:
        for session, mark in self._reserved.values():
            session.unmark(mark)
        self._reserved = {}


class HeldSessions:
    """``operations.handover.HeldAgents`` over the dispatcher's sessions."""

    def __init__(
        self,
        sessions: Mapping[InstanceKey, AgentSession],
        refill: Callable[[AgentSession], None],
    ) -> None:
        self._sessions = sessions
        self._refill = refill

    def reserve(self, tenant: Tenant, instance_ids: Sequence[str]) -> SessionReservation:
        reserved = {}
        for instance_id in instance_ids:
            session = self._sessions.get(InstanceKey(tenant, instance_id))
            # An agent with a full outbox gets its tasks by the usual reading when it drains.
            if session is not None and session.has_room():
                reserved[instance_id] = (session, session.mark())
        return SessionReservation(tenant, reserved, self._sessions, self._refill)
