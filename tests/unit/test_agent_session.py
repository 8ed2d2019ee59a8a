"""AgentSession: a bounded outbox that shared code only offers to, and never waits on."""

from __future__ import annotations

import asyncio

import pytest

from dispatcher.messages import result_ack_message
from dispatcher.session import AgentSession
from kairos.v1 import agent_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.hello import MAX_HELD
from tests.unit.outboxes import AGENT, drain, task


async def test_offering_to_a_full_outbox_returns_at_once_and_loses_nothing() -> None:
    session = AgentSession(AGENT, queue_size=4)
    waiting = [task(n) for n in range(10)]

    queued = session.offer(waiting, as_of=session.mark())  # no await: it cannot wait
    assert queued == ["e-0", "e-1", "e-2", "e-3"]
    assert session.pending() == 4
    assert not session.has_room()
    assert not session.wants_work()  # still full

    taken = await drain(session, 2)
    assert not session.wants_work()  # half full
    taken += await drain(session, 1)
    assert session.wants_work()  # below half: read the work again and offer it
    assert not session.wants_work()  # once
    queued = session.offer(waiting, as_of=session.mark())
    assert queued == ["e-4", "e-5", "e-6"]  # the rest still does not fit

    while True:
        taken += await drain(session, session.pending())
        if not session.wants_work():
            break
        session.offer(waiting, as_of=session.mark())
    assert taken == [f"e-{n}" for n in range(10)]  # each once, in order


async def test_stops_and_acks_fit_beyond_a_full_outbox_of_tasks() -> None:
    session = AgentSession(AGENT, queue_size=2)
    session.offer([task(0), task(1), task(2)])
    assert session.pending() == 2  # full of tasks; stops and acks have as much room again
    session.stop("e-0")
    assert session.send(result_ack_message("e-9"))
    session.stop("e-0")  # once per session
    session.offer([task(0, InvocationStatus.STOPPING)])
    assert session.pending() == 4
    kinds = []
    for _ in range(4):
        message = await session.next_message()
        assert message is not None
        kinds.append(message.WhichOneof("kind"))
    assert kinds == ["task", "task", "stop", "result_ack"]
    assert not session.stuck


async def test_control_messages_beyond_their_room_close_the_stuck_stream() -> None:
    stuck: list[AgentSession] = []
    session = AgentSession(AGENT, queue_size=2, on_stuck=stuck.append)
    room = 2 + MAX_HELD + 1  # the outbox, then a Welcome and a stop per held execution
    for n in range(room):
        assert session.send(result_ack_message(f"e-{n}"))
    assert not session.send(result_ack_message("e-x"))  # no waiting: the stream is closed
    assert stuck == [session]
    assert session.stuck
    assert await asyncio.wait_for(session.next_message(), 1) is None


async def test_close_ends_the_stream_even_when_the_outbox_is_full() -> None:
    session = AgentSession(AGENT, queue_size=3)
    session.offer([task(n) for n in range(3)])
    session.send_nowait_shutdown(1000)
    session.close()
    assert await drain(session, 3) == ["e-0", "e-1", "e-2"]
    last = await asyncio.wait_for(session.next_message(), 1)
    assert last is not None and last.WhichOneof("kind") == "shutdown"
    assert await asyncio.wait_for(session.next_message(), 1) is None
    assert session.offer([task(9)]) == []  # a closed session takes nothing more


async def test_close_wakes_a_stream_waiting_for_messages() -> None:
    session = AgentSession(AGENT)
    waiting = asyncio.create_task(session.next_message())
    await asyncio.sleep(0)  # let it start waiting
    session.close()
    assert await asyncio.wait_for(waiting, 1) is None


async def test_a_welcome_and_a_stop_for_every_held_execution_fit() -> None:
    # A Hello may list MAX_HELD executions the server no longer has open: the Welcome and
    # a stop for each are queued before the stream is read. Before, the 513th overflowed
    # the outbox, the stream was closed, and the agent reconnected into the same again.
    session = AgentSession(AGENT, on_stuck=lambda _: pytest.fail("closed as stuck"))
    assert session.send(agent_pb2.DispatcherMessage(welcome=agent_pb2.Welcome()))
    for n in range(MAX_HELD):
        session.stop(f"e-{n}")
    assert not session.stuck
    assert session.pending() == MAX_HELD + 1


async def test_an_outbox_full_past_the_send_timeout_closes_the_stream() -> None:
    stuck = asyncio.Event()
    session = AgentSession(AGENT, queue_size=2, send_timeout=0.05, on_stuck=lambda _: stuck.set())
    session.offer([task(0), task(1), task(2)])
    await asyncio.wait_for(stuck.wait(), 2)
    assert session.stuck
    # Dropped, not lost: nothing was acknowledged, the next stream sends them all.
    assert await asyncio.wait_for(session.next_message(), 1) is None


async def test_a_stream_that_keeps_taking_is_not_stuck() -> None:
    stuck: list[AgentSession] = []
    session = AgentSession(AGENT, queue_size=2, send_timeout=0.2, on_stuck=stuck.append)
    session.offer([task(0), task(1)])
    for n in range(2, 8):
        # Only a clock says whether the stream keeps up: take one message every 0.1 s.
        await asyncio.sleep(0.1)
        await drain(session, 1)
        session.offer([task(n)])
    assert stuck == []


async def test_what_no_longer_waits_is_forgotten() -> None:
    session = AgentSession(AGENT, queue_size=8)
    session.offer([task(n) for n in range(4)], as_of=session.mark())
    session.stop("e-0")
    assert session.tracked() == 5
    session.finished("e-0")  # its result came, and no reading is under way
    assert session.tracked() == 3
    mark = session.mark()
    session.offer([task(3)], as_of=mark)  # e-1 and e-2 started: no longer waiting
    assert session.tracked() == 1
    # Sent after the reading began: kept, though that reading did not see it.
    mark = session.mark()
    session.offer([task(4)])
    session.offer([task(3)], as_of=mark)
    assert session.tracked() == 2
    assert session.offer([task(3), task(4)]) == []  # and not sent twice


async def test_a_reading_of_new_work_only_forgets_nothing() -> None:
    session = AgentSession(AGENT, queue_size=8)
    session.offer([task(0), task(1)], as_of=session.mark())
    # e-0 and e-1 were sent: a reading of the new work does not find them.
    assert session.offer([task(2)], as_of=session.mark(), complete=False) == ["e-2"]
    assert session.tracked() == 3
    assert session.offer([task(0), task(1), task(2)]) == []


async def test_a_reading_older_than_a_result_never_sends_its_task_again() -> None:
    session = AgentSession(AGENT, queue_size=8)
    session.offer([task(0)], as_of=session.mark())
    older = session.mark()  # read before the agent's start and result were written
    session.finished("e-0")
    assert session.tracked() == 1  # the older reading is still under way
    newer = session.mark()  # read after: e-0 no longer waits
    session.offer([], as_of=newer, complete=False)
    assert session.tracked() == 1
    assert session.offer([task(0)], as_of=older, complete=False) == []  # nothing sent again
    assert session.tracked() == 0  # no older reading under way: e-0 is forgotten


async def test_a_failed_reading_does_not_keep_what_was_sent_forever() -> None:
    session = AgentSession(AGENT, queue_size=8)
    session.offer([task(0)], as_of=session.mark())
    session.unmark(session.mark())  # that reading failed
    session.offer([], as_of=session.mark())
    assert session.tracked() == 0


async def test_a_closed_stream_that_cannot_drain_is_still_closed_by_the_send_timeout() -> None:
    stuck = asyncio.Event()
    session = AgentSession(AGENT, queue_size=2, send_timeout=0.05, on_stuck=lambda _: stuck.set())
    session.offer([task(0), task(1)])
    session.close()  # say, replaced by a newer stream of the agent
    await asyncio.wait_for(stuck.wait(), 2)


async def test_a_closed_stream_that_takes_not_even_one_message_is_closed_too() -> None:
    # Fewer messages than the outbox holds: before, nothing watched a closed stream that
    # never took them, and its call waited for ever.
    stuck = asyncio.Event()
    session = AgentSession(AGENT, queue_size=2, send_timeout=0.05, on_stuck=lambda _: stuck.set())
    session.offer([task(0)])
    session.close()
    await asyncio.wait_for(stuck.wait(), 2)
    assert session.stuck


async def test_an_ended_stream_is_no_longer_watched() -> None:
    stuck: list[AgentSession] = []
    session = AgentSession(AGENT, queue_size=2, send_timeout=0.05, on_stuck=stuck.append)
    session.offer([task(0), task(1)])
    session.ended()
    # Only a clock can show that nothing happens: wait past the send timeout.
    await asyncio.sleep(0.2)
    assert stuck == []
    assert session.pending() == 0
