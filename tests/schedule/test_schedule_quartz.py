"""Differential test: the engine agrees with Quartz 2.3 on random valid expressions.

Outside the documented differences (docs/schedules.md): the engine refuses
expressions that fire twice within 10 s or never (Quartz runs them), stops at
2099 (Quartz goes on), and has its own DST rule, so the zones used here have no
transitions in the instants tested.
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.schedule import ErrorCode, ScheduleError, parse_frequency
from scheduler.schedule.base import Schedule
from scheduler.schedule.zones import parse_zone

from . import quartz_harness
from .cron_gen import Case, random_case

EXPRESSIONS = 1200
FIRES_PER_QUERY = 5
FIRST_START = int(datetime(1992, 1, 1, tzinfo=UTC).timestamp())
LAST_START = int(datetime(2090, 1, 1, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def quartz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    reason = quartz_harness.missing_reason()
    if reason is not None:
        pytest.skip(f"Quartz differential test needs the reference: {reason}")
    workdir = tmp_path_factory.mktemp("quartz")
    quartz_harness.compile_driver(workdir)
    yield workdir


def _cases(rng: random.Random) -> tuple[list[tuple[Case, Schedule, int]], dict[str, int]]:
    cases: list[tuple[Case, Schedule, int]] = []
    refused: dict[str, int] = {}
    while len(cases) < EXPRESSIONS:
        case = random_case(rng)
        try:
            schedule = parse_frequency(case.kairos_text)
        except ScheduleError as error:
            # Quartz accepts these; SPEC §5 deliberately refuses them.
            assert error.code in (ErrorCode.INTERVAL_TOO_SHORT, ErrorCode.NEVER_FIRES), (
                case.kairos_text,
                error,
            )
            refused[error.code] = refused.get(error.code, 0) + 1
            continue
        start = rng.randint(FIRST_START, LAST_START)
        roll = rng.random()
        if roll < 0.3:
            start -= start % 86400
        elif roll < 0.45:
            # Start exactly on a fire: both must treat "after" as strict.
            fire = schedule.next_fire(datetime.fromtimestamp(start, UTC))
            if fire is not None:
                start = int(fire.timestamp())
        cases.append((case, schedule, start))
    return cases, refused


def _before_2100(fires: tuple[int, ...], case: Case) -> list[int]:
    """Quartz's fires that lie in the engine's year range (1970-2099 local)."""
    zone = parse_zone(case.zone_token or "UTC").tzinfo
    return [fire for fire in fires if datetime.fromtimestamp(fire, zone).year <= 2099]


def test_engine_agrees_with_quartz(quartz: Path) -> None:
    cases, refused = _cases(random.Random(20261122))
    queries = [
        quartz_harness.Query(
            expression=case.fields, zone=case.java_zone, start=start, count=FIRES_PER_QUERY
        )
        for case, _, start in cases
    ]
    answers = quartz_harness.ask(quartz, queries)
    disagreements: list[str] = []
    instants = 0
    for (case, schedule, start), answer in zip(cases, answers, strict=True):
        assert answer.error is None, f"Quartz refused {case.fields!r}: {answer.error}"
        after = datetime.fromtimestamp(start, UTC)
        ours = [int(f.timestamp()) for f in schedule.fires(after, limit=FIRES_PER_QUERY)]
        theirs = _before_2100(answer.fires, case)
        instants += len(ours)
        if ours != theirs:
            disagreements.append(f"{case.kairos_text!r} after {after}: {ours} != {theirs}")
    assert not disagreements, "\n".join(disagreements[:20])
    # The comparison must have had substance: many fires, some refusals seen.
    assert instants > EXPRESSIONS * 3
    assert refused.get(ErrorCode.INTERVAL_TOO_SHORT, 0) > 0
