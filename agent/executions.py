"""Every execution this agent accepted: deduplication, queueing, stop, results, acks.

Delivery is at least once, so a task may arrive many times; an execution id
is run at most once. The state lives in the spool first and in memory second:
a task is on disk before it is acknowledged, a result before it is sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from agent import files, outcome
from agent.files import FilePlan
from agent.outbox import Outbox
from agent.power import PowerHook, power_action_of
from agent.process import kill_leftover
from agent.runner import Plan, Runner
from agent.spool import Record, RunMark, Spool, is_expired
from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.hello import MAX_HELD
from scheduler.domain.output import HeadTail

log = logging.getLogger(__name__)

MAX_RUNNING = 10  # tasks running at once (SPEC §3)
MAX_QUEUED = 50  # tasks waiting for a free slot beyond those


@dataclasses.dataclass(kw_only=True)
class _Execution:
    record: Record
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    job: asyncio.Task[None] | None = None
    running: bool = False
    result: agent_pb2.ExecutionResult | None = None  # finished, not yet acknowledged


class Executions:
    """Accepts tasks, runs them within the concurrency limits, keeps results until acked."""

    def __init__(
        self,
        spool: Spool,
        runner: Runner,
        power: PowerHook,
        outbox: Outbox,
        *,
        boot_id: str,
        clock: Callable[[], datetime],
        max_running: int = MAX_RUNNING,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._spool = spool
        self._runner = runner
        self._power = power
        self._outbox = outbox
        self._boot_id = boot_id
        self._clock = clock
        self._capacity = max_running + max_queued
        self._slots = asyncio.Semaphore(max_running)
        self._known: dict[str, _Execution] = {}
        self._active: dict[str, _Execution] = {}  # queued or running
        self._background: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        """How many scripts are running now."""
        return sum(1 for execution in self._active.values() if execution.running)

    def recover(self) -> None:
        """Load the spool left by a previous agent process.

        Executions that were queued or running when it died end ``Error`` /
        ``ClientRestarted`` with the output captured so far; a process group
        still running from them is killed first.
        """
        now = self._clock()
        self._spool.clear_scripts()
        for entry in sorted(self._spool.load(), key=lambda e: e.record.accepted_at):
            record = entry.record
            execution = _Execution(record=record, result=entry.result)
            self._known[record.execution_id] = execution
            if not record.acked and entry.result is None:
                self._finish(execution, self._restarted(record, now))

    def prune(self) -> None:
        """Forget acknowledged execution ids older than the retention period."""
        now = self._clock()
        for execution_id, execution in list(self._known.items()):
            if is_expired(execution.record, now):
                self._spool.forget(execution_id)
                del self._known[execution_id]

    def replay(self) -> Iterator[agent_pb2.AgentMessage]:
        """What a new stream must learn after Hello: running executions and unacked results."""
        for execution in self._known.values():
            if execution.result is not None:
                yield agent_pb2.AgentMessage(result=execution.result)
            elif execution.running and execution.record.run is not None:
                started = agent_pb2.ExecutionStarted(
                    execution_id=execution.record.execution_id,
                    start_time=execution.record.run.start_time,
                )
                yield agent_pb2.AgentMessage(started=started)

    def held(self) -> agent_pb2.HeldExecutions | None:
        """What a new stream's Hello lists: executions queued, running, or with a result
        not yet acknowledged. None when there are more than a Hello may list."""
        ids = [*self._active]
        ids += [i for i, e in self._known.items() if e.result is not None and i not in self._active]
        if len(ids) > MAX_HELD:
            # A partial list would make the server end executions this agent still has.
            log.warning(
                "holding %d executions, more than Hello may list: not reconciling", len(ids)
            )
            return None
        return agent_pb2.HeldExecutions(execution_ids=ids)

    def on_task(self, task: agent_pb2.Task) -> None:
        """Accept a delivered task: persist it, acknowledge it, then check and queue it."""
        execution_id = task.execution_id
        if not execution_id:
            log.warning("ignoring a task without an execution id")
            return
        ack = agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=execution_id))
        known = self._known.get(execution_id)
        if known is not None:
            log.info("execution %s delivered again; not running it twice", execution_id)
            self._outbox.send(ack)
            if known.result is not None:
                self._outbox.send(agent_pb2.AgentMessage(result=known.result))
            return
        execution = _Execution(record=self._spool.accept(execution_id, self._clock()))
        self._known[execution_id] = execution
        self._outbox.send(ack)
        plan = self._prepare(task)
        if isinstance(plan, agent_pb2.ExecutionResult):
            self._finish(execution, plan)
        elif task.dry_run and not (isinstance(plan, Plan) and plan.in_container):
            self._finish(execution, outcome.dry_run(execution_id, self._clock()))
        elif len(self._active) >= self._capacity:
            self._finish(execution, self._busy(execution_id))
        else:
            execution.job = asyncio.create_task(self._execute(execution, plan))
            self._active[execution_id] = execution
            execution.job.add_done_callback(lambda _: self._active.pop(execution_id, None))

    def _prepare(self, task: agent_pb2.Task) -> Plan | FilePlan | agent_pb2.ExecutionResult:
        """The checked plan of a script or of a file task (``Task.file``), or its ``Invalid``
        result."""
        if not task.HasField("file"):
            return self._runner.prepare(task)
        try:
            return files.check(task, self._runner.machine)
        except files.FileFailure as failure:
            return outcome.not_run(
                task.execution_id, failure.status, failure.code, failure.info, self._clock()
            )

    def on_stop(self, execution_id: str) -> None:
        """Stop an execution: kill it if running, cancel it if queued, else ignore."""
        execution = self._active.get(execution_id)
        if execution is None or execution.job is None or execution.job.done():
            return
        if execution.running:
            execution.stop.set()
            return
        execution.job.cancel()
        self._finish(
            execution,
            outcome.not_run(
                execution_id,
                common_pb2.INVOCATION_STATUS_CANCELLED,
                ExecutionErrorCode.EXECUTION_CANCELLED,
                "the task was stopped before it started",
                self._clock(),
            ),
        )

    def on_result_ack(self, execution_id: str) -> None:
        """The dispatcher stored the result: drop it, then act on a power exit code."""
        execution = self._known.get(execution_id)
        if execution is None or execution.result is None:
            return
        result, execution.result = execution.result, None
        execution.record = self._spool.acknowledge(execution.record)
        action = power_action_of(result)
        if action is not None:
            # Never awaited inline: the hook may take long and the stream must keep going.
            job = asyncio.create_task(self._power.perform(action, execution_id))
            self._background.add(job)
            job.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Stop everything for an agent shutdown.

        Running scripts are killed and queued tasks dropped without a result:
        on the next start they all end ``ClientRestarted`` with their output.
        """
        jobs = [e.job for e in self._active.values() if e.job is not None]
        jobs.extend(self._background)
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)

    async def _execute(self, execution: _Execution, plan: Plan | FilePlan) -> None:
        try:
            result = await self._result_of(execution, plan)
        except Exception as error:
            # The agent's own failure (a full disk, a runtime answering nonsense): still a
            # result, never silence, whichever step failed.
            log.exception("execution %s failed in the agent", execution.record.execution_id)
            result = outcome.not_run(
                execution.record.execution_id,
                common_pb2.INVOCATION_STATUS_ERROR,
                ExecutionErrorCode.EXECUTION_EXCEPTION,
                f"the agent could not run the script: {error}",
                self._clock(),
            )
        self._finish(execution, result)

    async def _result_of(
        self, execution: _Execution, plan: Plan | FilePlan
    ) -> agent_pb2.ExecutionResult:
        if isinstance(plan, Plan) and plan.in_container:
            # Asking the runtime is I/O, done here rather than in on_task; a stop
            # meanwhile cancels it like a queued task.
            entered = await self._runner.enter_container(plan)
            if isinstance(entered, agent_pb2.ExecutionResult):
                return entered
            if plan.task.dry_run:
                return outcome.dry_run(execution.record.execution_id, self._clock())
            plan = entered
        async with self._slots:
            execution.running = True
            try:
                events = _Events(
                    spool=self._spool,
                    outbox=self._outbox,
                    boot_id=self._boot_id,
                    execution=execution,
                )
                if isinstance(plan, FilePlan):
                    return await self._write(execution, plan, events)
                output_path = self._spool.output_path(execution.record.execution_id)
                return await self._runner.run(plan, output_path, events, execution.stop)
            finally:
                execution.running = False

    async def _write(
        self, execution: _Execution, plan: FilePlan, events: _Events
    ) -> agent_pb2.ExecutionResult:
        """Write a file task's file. It runs no process: a restart while it writes ends it
        ``ClientRestarted`` as a task that had not started; a stop waits for the write,
        which the timeout bounds."""
        execution_id = execution.record.execution_id
        events.began(self._clock())
        return await files.write_file(
            execution_id, plan, clock=self._clock, root=self._runner.machine.root
        )

    def _finish(self, execution: _Execution, result: agent_pb2.ExecutionResult) -> None:
        self._spool.store_result(result)
        execution.result = result
        status = common_pb2.InvocationStatus.Name(result.status).removeprefix("INVOCATION_STATUS_")
        log.info(
            "execution %s ended %s%s",
            result.execution_id,
            status,
            f" ({result.error_code})" if result.error_code else "",
        )
        self._outbox.send(agent_pb2.AgentMessage(result=result))

    def _restarted(self, record: Record, now: datetime) -> agent_pb2.ExecutionResult:
        buffer = HeadTail()
        try:
            with open(self._spool.output_path(record.execution_id), "rb") as file:
                while chunk := file.read(64 * 1024):
                    buffer.feed(chunk)
        except FileNotFoundError:
            pass
        output, dropped = buffer.result()
        if record.run is None:
            info = "the agent restarted before the task started"
        else:
            killed = kill_leftover(record.run, self._boot_id)
            info = "the agent restarted while the script was running"
            if killed:
                info += "; its leftover processes were killed"
        return outcome.not_run(
            record.execution_id,
            common_pb2.INVOCATION_STATUS_ERROR,
            ExecutionErrorCode.CLIENT_RESTARTED,
            info,
            now,
            output=output,
            dropped=dropped,
            start=record.run.start_time if record.run else None,
        )

    def _busy(self, execution_id: str) -> agent_pb2.ExecutionResult:
        return outcome.not_run(
            execution_id,
            common_pb2.INVOCATION_STATUS_ERROR,
            ExecutionErrorCode.CLIENT_BUSY,
            f"the agent already has {self._capacity} tasks running or queued",
            self._clock(),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Events:
    """Runner events of one execution: persisted, then told to the dispatcher."""

    spool: Spool
    outbox: Outbox
    boot_id: str
    execution: _Execution

    def started(self, pgid: int, process_start: int, start_time: datetime) -> None:
        execution = self.execution
        run = RunMark(
            pgid=pgid, process_start=process_start, boot_id=self.boot_id, start_time=start_time
        )
        execution.record = self.spool.mark_running(execution.record, run)
        message = agent_pb2.ExecutionStarted(
            execution_id=execution.record.execution_id, start_time=start_time
        )
        self.outbox.send(agent_pb2.AgentMessage(started=message))

    def began(self, start_time: datetime) -> None:
        """A task without a process (a file task's write) started."""
        message = agent_pb2.ExecutionStarted(
            execution_id=self.execution.record.execution_id, start_time=start_time
        )
        self.outbox.send(agent_pb2.AgentMessage(started=message))

    def output(self, offset: int, data: bytes) -> None:
        message = agent_pb2.ExecutionOutput(
            execution_id=self.execution.record.execution_id, offset=offset, data=data
        )
        self.outbox.send(agent_pb2.AgentMessage(output=message))
