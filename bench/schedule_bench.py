"""Fires per second of the schedule engine, beside croniter and cronsim.

Run: .venv/bin/python bench/schedule_bench.py [--expressions 600] [--fires 10]

A fixed corpus (seeded RNG) of Quartz-style expressions is timed two ways:
parse + next N (end to end) and next N on pre-parsed schedules. croniter and
cronsim run, in the same process and from the same instants, the expressions
they can express (no year, no W, no wrap-around ranges; day-of-week shifted to
their 0 = Sunday); their fires are checked against ours so that the ratio
compares equal work.
"""

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter
from cronsim import CronSim

from scheduler.schedule import Schedule, ScheduleError, parse_frequency

START = datetime(2026, 1, 1, tzinfo=UTC)
REPEATS = 3


@dataclass(frozen=True)
class Expression:
    """One corpus entry: our text and, where they can express it, croniter's and cronsim's."""

    kairos: str
    croniter: str | None
    cronsim: str | None


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--expressions", type=int, default=600)
    options.add_argument("--fires", type=int, default=10)
    options.add_argument("--seed", type=int, default=20261122)
    args = options.parse_args()

    corpus = build_corpus(random.Random(args.seed), args.expressions)
    n = args.fires
    portable = [e for e in corpus if e.croniter is not None and e.cronsim is not None]
    portable = [e for e in portable if _agree(e, n)]
    print(f"corpus: {len(corpus)} expressions, {n} fires each, start {START:%Y-%m-%d}")
    print(f"portable subset (croniter and cronsim agree with us): {len(portable)}")
    print()

    parsed = [parse_frequency(e.kairos) for e in corpus]
    parsed_portable = [parse_frequency(e.kairos) for e in portable]
    croniter_texts = [e.croniter for e in portable if e.croniter]
    cronsim_texts = [e.cronsim for e in portable if e.cronsim]
    ours_e2e, ours_next, sub_e2e, sub_next, croniter_rate, cronsim_rate = _best(
        [
            lambda: _kairos_end_to_end([e.kairos for e in corpus], n),
            lambda: _kairos_next_only(parsed, n),
            lambda: _kairos_end_to_end([e.kairos for e in portable], n),
            lambda: _kairos_next_only(parsed_portable, n),
            lambda: _croniter(croniter_texts, n),
            lambda: _cronsim(cronsim_texts, n),
        ]
    )

    rows = [
        ("kairos parse+next, full corpus", ours_e2e),
        ("kairos next only, full corpus", ours_next),
        ("kairos parse+next, portable subset", sub_e2e),
        ("kairos next only, portable subset", sub_next),
        ("croniter parse+next, portable subset", croniter_rate),
        ("cronsim parse+next, portable subset", cronsim_rate),
    ]
    for label, rate in rows:
        print(f"{label:<40}{rate:>12,.0f} fires/s")
    print()
    print(f"kairos / croniter (end to end, same subset): {sub_e2e / croniter_rate:.1f}x")
    print(f"kairos / cronsim  (end to end, same subset): {sub_e2e / cronsim_rate:.1f}x")


def _kairos_end_to_end(texts: Sequence[str], n: int) -> tuple[int, float]:
    began = time.perf_counter()
    fires = 0
    for text in texts:
        schedule = parse_frequency(text)
        after: datetime | None = START
        for _ in range(n):
            assert after is not None
            after = schedule.next_fire(after)
            if after is None:
                break
            fires += 1
    return fires, time.perf_counter() - began


def _kairos_next_only(schedules: Sequence[Schedule], n: int) -> tuple[int, float]:
    began = time.perf_counter()
    fires = 0
    for schedule in schedules:
        after: datetime | None = START
        for _ in range(n):
            assert after is not None
            after = schedule.next_fire(after)
            if after is None:
                break
            fires += 1
    return fires, time.perf_counter() - began


def _croniter(texts: Sequence[str], n: int) -> tuple[int, float]:
    began = time.perf_counter()
    for text in texts:
        iterator = croniter(text, START, second_at_beginning=True)
        for _ in range(n):
            iterator.get_next(datetime)
    return len(texts) * n, time.perf_counter() - began


def _cronsim(texts: Sequence[str], n: int) -> tuple[int, float]:
    began = time.perf_counter()
    for text in texts:
        iterator = CronSim(text, START)
        for _ in range(n):
            next(iterator)
    return len(texts) * n, time.perf_counter() - began


def _best(runs: Sequence[Callable[[], tuple[int, float]]]) -> list[float]:
    """Fires per second of each run, the fastest of a few interleaved rounds.

    Interleaving spreads any background load over every contender alike.
    """
    best = [0.0] * len(runs)
    for _ in range(REPEATS):
        for index, run in enumerate(runs):
            fires, seconds = run()
            best[index] = max(best[index], fires / seconds)
    return best


def _agree(expression: Expression, n: int) -> bool:
    """Whether croniter and cronsim produce our fires for this expression."""
    assert expression.croniter is not None and expression.cronsim is not None
    ours = list(parse_frequency(expression.kairos).fires(START, limit=n))
    if len(ours) < n:
        return False
    try:
        iterator = croniter(expression.croniter, START, second_at_beginning=True)
        theirs = [iterator.get_next(datetime) for _ in range(n)]
        sim = CronSim(expression.cronsim, START)
        others = [next(sim) for _ in range(n)]
    except Exception:
        return False
    return ours == theirs == others


def build_corpus(rng: random.Random, size: int) -> list[Expression]:
    """`size` distinct valid expressions; about two thirds portable to croniter/cronsim."""
    corpus: dict[str, Expression] = {}
    while len(corpus) < size:
        expression = _random_expression(rng)
        try:
            parse_frequency(expression.kairos)
        except ScheduleError:
            continue
        corpus.setdefault(expression.kairos, expression)
    return list(corpus.values())


def _random_expression(rng: random.Random) -> Expression:
    second = rng.choice(["0", "0", "30", "0/15", "*/20", "5,35", "0-50/10"])
    minute = rng.choice(
        ["0", "*", "*/5", "15", "0/30", "10-40/10", "5,25,45", str(rng.randint(0, 59))]
    )
    hour = rng.choice(["*", "*/2", "9-17", "0", "12", "8,20", str(rng.randint(0, 23))])
    month = rng.choice(["*", "*", "*", "1-6", "*/3", "3,9", str(rng.randint(1, 12))])
    portable = True
    kind = rng.random()
    if kind < 0.35:
        dom, dow, their_dow = "*", "?", "*"
        their_dom = "*"
    elif kind < 0.55:
        dom = rng.choice(["1", "15", "1,15", "1-7", "*/2", "L", str(rng.randint(1, 28))])
        dow, their_dom, their_dow = "?", dom, "*"
    elif kind < 0.75:
        days = sorted(rng.sample(range(1, 8), rng.randint(1, 3)))
        dow = ",".join(str(d) for d in days)
        dom, their_dom, their_dow = "?", "*", ",".join(str(d - 1) for d in days)
    elif kind < 0.85:
        day, nth = rng.randint(1, 7), rng.randint(1, 4)
        dom, dow, their_dom, their_dow = "?", f"{day}#{nth}", "*", f"{day - 1}#{nth}"
    elif kind < 0.92:
        day = rng.randint(1, 7)
        dom, dow, their_dom, their_dow = "?", f"{day}L", "*", f"{day - 1}L"
    else:
        # Quartz-only forms: nearest weekday, L-n, years, wrap-around ranges.
        dom = rng.choice(["15W", "1W", "LW", "L-3", "L-3W"])
        dow, their_dom, their_dow, portable = "?", "*", "*", False
    fields = [second, minute, hour, dom, month, dow]
    if rng.random() < 0.1:
        fields.append(f"{rng.randint(2026, 2030)}-2099")
        portable = False
    if rng.random() < 0.05:
        fields[2] = "22-3"
        portable = False
    text = " ".join(fields)
    if not portable:
        return Expression(text, None, None)
    theirs = " ".join([second, minute, hour, their_dom, month, their_dow])
    # croniter spells "last Friday" L5; cronsim spells it 5L.
    croniter_dow = f"L{their_dow[:-1]}" if their_dow.endswith("L") else their_dow
    croniter_text = " ".join([second, minute, hour, their_dom, month, croniter_dow])
    return Expression(text, croniter_text, theirs)


if __name__ == "__main__":
    main()
