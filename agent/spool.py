"""The agent's on-disk state: which executions it accepted, their output, their results.

Layout under the state directory::

    executions/<key>/record.json   accepted, then running (pgid, boot id), then acked
    executions/<key>/output.log    merged stdout+stderr, appended while the script runs
    executions/<key>/result.pb     the final ExecutionResult, until the dispatcher acks it
    scripts/                       script files of running executions

Every file that replaces another is written to a temporary name and renamed,
so a crash leaves either the old or the new content, never half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from kairos.v1 import agent_pb2

# Accepted execution ids are remembered this long after acceptance, so a late
# redelivery of the same id is recognised and never run twice.
RETENTION = timedelta(days=7)

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_RECORD = "record.json"
_OUTPUT = "output.log"
_RESULT = "result.pb"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunMark:
    """Where a running execution's process group is, to find it after a crash."""

    pgid: int
    process_start: int  # the leader's start time in clock ticks since boot (/proc/PID/stat)
    boot_id: str
    start_time: datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """What the spool knows about one accepted execution."""

    execution_id: str
    accepted_at: datetime
    run: RunMark | None = None
    acked: bool = False


@dataclasses.dataclass(frozen=True)
class Entry:
    """One spooled execution as found on disk."""

    record: Record
    result: agent_pb2.ExecutionResult | None


class SpoolLocked(Exception):
    """Another agent process already uses this state directory."""


class Spool:
    """Reads and writes the state directory. Synchronous: every call is a few small files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._executions = root / "executions"
        self.scripts = root / "scripts"
        for directory in (root, self._executions, self.scripts):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock: IO[bytes] | None = None

    def lock(self) -> None:
        """Hold the state directory for this process until it exits.

        Two agents sharing one directory would each take the other's running
        executions for leftovers of a crash and kill them.
        """
        file = open(self.root / "agent.lock", "ab")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise SpoolLocked(f"another agent is using the state directory {self.root}") from None
        self._lock = file

    def unlock(self) -> None:
        """Release the state directory taken by ``lock``."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def load(self) -> Iterator[Entry]:
        """Yield every spooled execution; unreadable leftovers are skipped."""
        for directory in sorted(self._executions.iterdir()):
            try:
                record = _decode_record(json.loads((directory / _RECORD).read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                # A crash between mkdir and the first rename leaves an empty
                # directory: the task was never acknowledged, so forget it.
                shutil.rmtree(directory, ignore_errors=True)
                continue
            result = None
            with contextlib.suppress(FileNotFoundError):
                result = agent_pb2.ExecutionResult.FromString((directory / _RESULT).read_bytes())
            yield Entry(record, result)

    def accept(self, execution_id: str, now: datetime) -> Record:
        """Record that ``execution_id`` was accepted; call before acknowledging the task."""
        record = Record(execution_id=execution_id, accepted_at=now)
        self._dir(execution_id).mkdir(mode=0o700, exist_ok=True)
        self._write_record(record, durable=True)
        return record

    def mark_running(self, record: Record, run: RunMark) -> Record:
        """Record where the running process group of an execution is."""
        running = dataclasses.replace(record, run=run)
        # Not synced: after a machine crash there is no process group to find.
        self._write_record(running, durable=False)
        return running

    def output_path(self, execution_id: str) -> Path:
        """The file that receives the execution's output while it runs."""
        return self._dir(execution_id) / _OUTPUT

    def store_result(self, result: agent_pb2.ExecutionResult) -> None:
        """Persist the final result of an execution until the dispatcher acks it."""
        path = self._dir(result.execution_id) / _RESULT
        _write_atomically(path, result.SerializeToString(), durable=True)

    def acknowledge(self, record: Record) -> Record:
        """Forget the output and result of an execution, keeping its id for deduplication."""
        acked = dataclasses.replace(record, run=None, acked=True)
        # Not synced: losing the ack only makes the dispatcher ack the result again.
        self._write_record(acked, durable=False)
        directory = self._dir(record.execution_id)
        for name in (_RESULT, _OUTPUT):
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
        return acked

    def forget(self, execution_id: str) -> None:
        """Remove everything about an execution, its id included."""
        shutil.rmtree(self._dir(execution_id), ignore_errors=True)

    def clear_scripts(self) -> None:
        """Delete script files left behind by a previous agent process."""
        for script in self.scripts.iterdir():
            script.unlink(missing_ok=True)

    def _dir(self, execution_id: str) -> Path:
        return self._executions / safe_name(execution_id)

    def _write_record(self, record: Record, *, durable: bool) -> None:
        data = json.dumps(_encode_record(record)).encode()
        _write_atomically(self._dir(record.execution_id) / _RECORD, data, durable=durable)


def is_expired(record: Record, now: datetime) -> bool:
    """True when an acknowledged execution is old enough for its id to be forgotten."""
    return record.acked and now - record.accepted_at > RETENTION


def safe_name(name: str) -> str:
    """``name`` as a file name: kept when harmless, else replaced by its hash."""
    if _SAFE_KEY.fullmatch(name) and name not in (".", ".."):
        return name
    return "sha256-" + hashlib.sha256(name.encode()).hexdigest()


def _write_atomically(path: Path, data: bytes, *, durable: bool) -> None:
    """Replace ``path`` with ``data``; ``durable`` also survives a machine crash."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        if durable:
            file.flush()
            os.fsync(file.fileno())
    os.replace(temporary, path)


def _encode_record(record: Record) -> dict[str, object]:
    encoded: dict[str, object] = {
        "execution_id": record.execution_id,
        "accepted_at": record.accepted_at.isoformat(),
        "acked": record.acked,
    }
    if record.run:
        encoded["run"] = {
            "pgid": record.run.pgid,
            "process_start": record.run.process_start,
            "boot_id": record.run.boot_id,
            "start_time": record.run.start_time.isoformat(),
        }
    return encoded


def _decode_record(data: dict[str, object]) -> Record:
    run = data.get("run")
    mark = None
    if isinstance(run, dict):
        mark = RunMark(
            pgid=int(run["pgid"]),
            process_start=int(run["process_start"]),
            boot_id=str(run["boot_id"]),
            start_time=datetime.fromisoformat(str(run["start_time"])),
        )
    return Record(
        execution_id=str(data["execution_id"]),
        accepted_at=datetime.fromisoformat(str(data["accepted_at"])),
        run=mark,
        acked=bool(data["acked"]),
    )
