"""Handing a call's new executions straight to the sessions this replica holds."""

from __future__ import annotations

from dispatcher.handover import HeldSessions, SessionReservation
from dispatcher.session import AgentSession
from scheduler.domain.tenancy import DEFAULT_TENANT, InstanceKey, Tenant
from tests.unit.outboxes import AGENT, drain, task

OTHER_TENANT = Tenant("other-account", DEFAULT_TENANT.region_id)


def held(
    *sessions: AgentSession,
) -> tuple[HeldSessions, dict[InstanceKey, AgentSession], list[AgentSession]]:
    by_key = {session.key: session for session in sessions}
    refilled: list[AgentSession] = []
    return HeldSessions(by_key, refilled.append), by_key, refilled


async def test_tasks_of_reserved_agents_are_queued_once_committed() -> None:
    session = AgentSession(AGENT)
    agents, _, refilled = held(session)

    reservation = agents.reserve(DEFAULT_TENANT, ["i-1", "i-absent"])
    assert reservation.instance_ids == {"i-1"}  # only agents held here
    reservation.hand_over([task(1), task(2)])

    assert await drain(session, 2) == ["e-1", "e-2"]
    assert refilled == []


async def test_only_the_callers_tenant_is_reserved() -> None:
    agents, _, _ = held(AgentSession(AGENT))
    assert agents.reserve(OTHER_TENANT, ["i-1"]).instance_ids == frozenset()


async def test_an_agent_with_a_full_outbox_is_not_reserved() -> None:
    session = AgentSession(AGENT, queue_size=1)
    session.offer([task(0)])
    agents, _, _ = held(session)
    assert agents.reserve(DEFAULT_TENANT, ["i-1"]).instance_ids == frozenset()


async def test_a_task_that_no_longer_fits_is_read_again_when_the_outbox_drains() -> None:
    session = AgentSession(AGENT, queue_size=2)
    agents, _, _ = held(session)
    reservation = agents.reserve(DEFAULT_TENANT, ["i-1"])
    session.offer([task(0), task(1)])  # filled meanwhile by another reading

    reservation.hand_over([task(2)])

    assert await drain(session, 2) == ["e-0", "e-1"]
    assert session.wants_work()  # the handed task waits in the database for this reading


async def test_an_agent_that_reconnected_meanwhile_reads_its_work_again() -> None:
    old = AgentSession(AGENT)
    agents, sessions, refilled = held(old)
    reservation = agents.reserve(DEFAULT_TENANT, ["i-1"])
    new = AgentSession(AGENT)
    sessions[AGENT] = new  # its Connect may have read the work before the call committed

    reservation.hand_over([task(1)])

    assert refilled == [new]
    assert old.pending() == 0


async def test_an_agent_gone_meanwhile_gets_its_work_when_it_is_back() -> None:
    session = AgentSession(AGENT)
    agents, sessions, refilled = held(session)
    reservation = agents.reserve(DEFAULT_TENANT, ["i-1"])
    del sessions[AGENT]

    reservation.hand_over([task(1)])

    assert refilled == []  # its next Connect reads all its waiting work
    assert session.pending() == 0


async def finished_while_reserved() -> tuple[AgentSession, SessionReservation]:
    """A session whose task, sent by an earlier reading, finishes while a call's
    transaction runs (the call may have found it waiting)."""
    session = AgentSession(AGENT)
    agents, _, _ = held(session)
    session.offer([task(1)], as_of=session.mark())
    await drain(session, 1)
    reservation = agents.reserve(DEFAULT_TENANT, ["i-1"])
    session.finished("e-1")
    assert session.tracked() == 1  # held back by the reservation
    return session, reservation


async def test_a_reservation_holds_back_forgetting_what_finishes_meanwhile() -> None:
    session, reservation = await finished_while_reserved()

    reservation.hand_over([task(1)])  # still found sent: never sent again

    assert session.pending() == 0
    assert session.tracked() == 0  # forgotten once the reservation is over


async def test_a_released_reservation_lets_finished_work_be_forgotten() -> None:
    session, reservation = await finished_while_reserved()

    reservation.release()

    assert session.tracked() == 0
