"""Hypothesis strategies for what an agent may send: well-formed, hostile and out of order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from kairos.v1 import agent_pb2

T = TypeVar("T")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
FIRST_SECOND = -62_135_596_800
"""0001-01-01T00:00:00Z, the earliest instant a protobuf Timestamp may hold."""
LAST_SECOND = 253_402_300_799
"""9999-12-31T23:59:59Z, the latest."""

_WELL_FORMED_ID = re.compile(r"[\x21-\x7e]{1,40}")


def well_formed_id(execution_id: str) -> bool:
    """What the protocol allows as an execution id: 1-40 printable ASCII characters.

    Written here again, not imported, so that the test checks the server's rule.
    """
    return _WELL_FORMED_ID.fullmatch(execution_id) is not None


def breaks_protocol(message: agent_pb2.AgentMessage, protocol: int) -> bool:
    """True when the dispatcher must end the stream on ``message`` (INVALID_ARGUMENT), on a
    stream that speaks ``protocol``.

    A message of no known kind, a second Hello, or an execution id that cannot
    be one; a Reports message on protocol 1, or one that is empty, holds more than
    256 reports, an unset one or one that would break the protocol alone.
    Everything else is served: what it says is bounded, ignored when it names no
    execution of the agent's, or counted as an error.
    """
    kind = message.WhichOneof("kind")
    if kind in (None, "hello"):
        return True
    if kind == "heartbeat":
        return False
    if kind == "reports":
        reports = message.reports.reports
        return (
            protocol < 2
            or not 1 <= len(reports) <= 256
            or any(report_breaks_protocol(report) for report in reports)
        )
    return not well_formed_id(getattr(message, kind).execution_id)


def report_breaks_protocol(report: agent_pb2.Report) -> bool:
    """True when a report of a Reports message is unset or names a malformed id."""
    kind = report.WhichOneof("report")
    return kind is None or not well_formed_id(getattr(report, kind).execution_id)


def text(limit: int) -> st.SearchStrategy[str]:
    """Any text around ``limit`` characters: short, at the limit, over it, NUL, any Unicode."""
    return st.one_of(
        st.sampled_from(["", " ", "\x00", "a\x00b", "x" * limit, "x" * (limit + 1), "é" * limit]),
        st.text(max_size=20),
        st.text(min_size=limit - 2, max_size=limit + 3),
    )


ZONES = st.one_of(
    st.sampled_from(
        [
            "UTC",
            "Etc",
            "Etc/GMT+5",
            "Europe/Paris",
            "America",
            "+05:30",
            "-24:00",
            "UTC+8",
            "Nowhere/Town",
            "../../../etc/passwd",
            "/etc/localtime",
            "posixrules",
            "zone.tab",
            "",
            "UTC\x00",
        ]
    ),
    text(64),
)


def timestamps() -> st.SearchStrategy[Timestamp | None]:
    """Unset, believable, at the protobuf extremes, beyond them, or not even normalised."""
    return st.one_of(
        st.none(),
        st.builds(
            Timestamp,
            seconds=st.one_of(
                st.sampled_from(
                    [0, FIRST_SECOND, FIRST_SECOND - 1, LAST_SECOND, LAST_SECOND + 1, 1_800_000_000]
                ),
                st.integers(*INT64),
            ),
            nanos=st.one_of(st.sampled_from([0, 999_999_999, -1, 10**9]), st.integers(*INT32)),
        ),
    )


def _with_time(message: object, field: str, stamp: Timestamp | None) -> None:
    if stamp is not None:
        getattr(message, field).CopyFrom(stamp)


@st.composite
def hostile_hellos(draw: st.DrawFn, instance_ids: st.SearchStrategy[str]) -> agent_pb2.Hello:
    """A Hello with every field drawn: lengths, NUL, Unicode, odd zones, any OS number."""
    return agent_pb2.Hello(
        instance_id=draw(st.one_of(instance_ids, text(64))),
        instance_name=draw(text(128)),
        os_type=draw(st.one_of(st.integers(-1, 6), st.integers(*INT32))),  # type: ignore[arg-type]
        agent_version=draw(text(64)),
        time_zone=draw(ZONES),
        boot_id=draw(st.one_of(st.just("boot-1"), text(64))),
        protocol=draw(st.one_of(st.integers(-1, 3), st.integers(*INT32))),
    )


def hellos(instance_id: str, others: list[str]) -> st.SearchStrategy[agent_pb2.Hello]:
    """Mostly a Hello the server accepts for ``instance_id`` (so that the messages after
    it are served), with any zone and boot id; otherwise a hostile one."""
    plain = st.builds(
        agent_pb2.Hello,
        instance_id=st.just(instance_id),
        instance_name=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
        os_type=st.integers(0, 3),
        agent_version=st.just("1.0.0"),
        time_zone=ZONES.filter(lambda zone: "\x00" not in zone and len(zone) <= 64),
        boot_id=st.sampled_from(["boot-1", "boot-2"]),
        # An agent from before versions, one of today, one newer than the server.
        protocol=st.sampled_from([0, 1, 2, 2, 3]),
    )
    hostile = hostile_hellos(st.sampled_from([instance_id, *others]))
    return weighted((plain, 3), (hostile, 1))


@dataclass(kw_only=True, frozen=True)
class Known:
    """Execution ids the messages may name, from the server under test."""

    own: list[str]
    """The fuzzed agent's own executions (running or already final)."""
    foreign: list[str]
    """Another account's executions."""


def execution_ids(known: Known) -> st.SearchStrategy[str]:
    """Mostly real ids (own and foreign), often unknown ones, sometimes malformed ones."""
    real = st.sampled_from(known.own + known.foreign)
    unknown = st.from_regex(r"e-[0-9a-f]{24}", fullmatch=True)
    malformed = st.one_of(
        st.sampled_from(["", " ", "\x00", "e-\x00", "e-" + "f" * 39, "é"]),
        st.text(max_size=50),
    )
    return weighted((real, 4), (unknown, 2), (malformed, 1))


def weighted(*choices: tuple[st.SearchStrategy[T], int]) -> st.SearchStrategy[T]:
    """One of the strategies, each drawn in proportion to its weight."""
    return st.sampled_from([s for s, weight in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


OUTPUT = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"\x00" * 10, bytes(range(256)) * 100, b"y" * 30_000]),
)


def offsets() -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(0, 100_000),
        st.sampled_from([-1, 2**48, 2**48 + 1, 2**63 - 1, -(2**63)]),
        st.integers(*INT64),
    )


@st.composite
def agent_messages(draw: st.DrawFn, known: Known) -> agent_pb2.AgentMessage:
    """One message of any kind, with any field values: a Reports message too, of any
    number of reports of any kind, unset ones included."""
    # Mostly messages of the protocol, so that long sequences are served.
    kind = draw(
        st.sampled_from(
            ["heartbeat", "ack", "started", "output", "result", "reports"] * 3 + ["hello", "none"]
        )
    )
    if kind == "reports":
        too_many = [agent_pb2.Report(ack=agent_pb2.TaskAck(execution_id=known.own[-1]))] * 257
        drawn = draw(weighted((st.lists(reports(known), max_size=6), 6), (st.just(too_many), 1)))
        return agent_pb2.AgentMessage(reports=agent_pb2.Reports(reports=drawn))
    return draw(single_messages(known, kind))


@st.composite
def reports(draw: st.DrawFn, known: Known) -> agent_pb2.Report:
    """One report of a Reports message: any report, or unset."""
    kind = draw(st.sampled_from(["ack", "started", "output", "result"] * 4 + ["none"]))
    if kind == "none":
        return agent_pb2.Report()
    alone = draw(single_messages(known, kind))
    return agent_pb2.Report(**{kind: getattr(alone, kind)})


@st.composite
def single_messages(draw: st.DrawFn, known: Known, kind: str) -> agent_pb2.AgentMessage:
    """One message of ``kind`` (``none``: no kind), with any field values."""
    ids = execution_ids(known)
    if kind == "heartbeat":
        beat = agent_pb2.Heartbeat(running=draw(st.integers(*INT32)))
        _with_time(beat, "agent_time", draw(timestamps()))
        return agent_pb2.AgentMessage(heartbeat=beat)
    if kind == "ack":
        return agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=draw(ids)))
    if kind == "started":
        started = agent_pb2.ExecutionStarted(execution_id=draw(ids))
        _with_time(started, "start_time", draw(timestamps()))
        return agent_pb2.AgentMessage(started=started)
    if kind == "output":
        output = agent_pb2.ExecutionOutput(
            execution_id=draw(ids), offset=draw(offsets()), data=draw(OUTPUT)
        )
        return agent_pb2.AgentMessage(output=output)
    if kind == "result":
        return agent_pb2.AgentMessage(result=draw(results(ids)))
    if kind == "hello":
        return agent_pb2.AgentMessage(hello=draw(hostile_hellos(st.just("i-fuzz"))))
    return agent_pb2.AgentMessage()


@st.composite
def results(draw: st.DrawFn, ids: st.SearchStrategy[str]) -> agent_pb2.ExecutionResult:
    """A result: any status number (undefined ones too), codes and texts of any length."""
    result = agent_pb2.ExecutionResult(
        execution_id=draw(ids),
        status=draw(st.one_of(st.integers(-1, 20), st.integers(*INT32))),  # type: ignore[arg-type]
        exit_code=draw(st.one_of(st.integers(-1, 256), st.integers(*INT32))),
        error_code=draw(text(64)),
        error_info=draw(st.one_of(text(64), st.text(min_size=5000, max_size=6000))),
        output=draw(OUTPUT),
        dropped=draw(
            st.one_of(
                st.integers(-5, 100_000),
                st.sampled_from([2**63 - 1, -(2**63)]),
                st.integers(*INT64),
            )
        ),
    )
    _with_time(result, "start_time", draw(timestamps()))
    _with_time(result, "finish_time", draw(timestamps()))
    return result
