"""`kairos schedule next|explain`: how operators check a frequency before using it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TextIO

from scheduler.cli.flags import in_utc
from scheduler.schedule import (
    CronSchedule,
    Schedule,
    ScheduleError,
    parse_frequency,
    parse_zone,
)

MAX_COUNT = 1000
EXPLAIN_COUNT = 5


class _ArgumentError(Exception):
    """A bad option value, reported like a schedule error."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `schedule` command (with `next` and `explain`) to the `kairos` parser."""
    parser = subparsers.add_parser(
        "schedule",
        help="check a frequency (cron, rate or at): its next fires and what it means",
        description="Check a frequency before using it: next fires (UTC and local) or a plain "
        "English explanation. Exit status 2 and 'error: <code>: <message>' when it is invalid.",
    )
    actions = parser.add_subparsers(dest="schedule_action", required=True, metavar="ACTION")

    next_parser = actions.add_parser("next", help="print the next fires of a frequency")
    _add_common(next_parser)
    next_parser.add_argument(
        "--count", type=int, default=EXPLAIN_COUNT, help=f"how many fires, 1-{MAX_COUNT}"
    )
    next_parser.set_defaults(func=run_next)

    explain_parser = actions.add_parser(
        "explain", help=f"describe a frequency and print its next {EXPLAIN_COUNT} fires"
    )
    _add_common(explain_parser)
    explain_parser.set_defaults(func=run_explain)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("frequency", help='e.g. "0 15 10 ? * 6L", "rate(5m)", "at(...)"')
    parser.add_argument(
        "--after",
        help="ISO-8601 instant to start from (default: now); without an offset it is read "
        "in --zone, else UTC",
    )
    parser.add_argument(
        "--zone",
        help="the instance's IANA time zone, used by a cron without its own zone (default UTC)",
    )
    # No default: `kairos --json schedule …` (the root parser's --json) is not overwritten.
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )


def run_next(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`kairos schedule next`: the next N fires, or the error and exit status 2."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if not 1 <= args.count <= MAX_COUNT:
            raise _ArgumentError(f"--count must be 1-{MAX_COUNT}, got {args.count}")
        schedule, zone, after = _prepare(args)
    except (ScheduleError, _ArgumentError) as error:
        return _fail(error, err)
    fires = list(schedule.fires(after, zone=zone, limit=args.count))
    local = _display_zone(schedule, zone)
    if getattr(args, "json", False):
        document = {
            "frequency": str(schedule),
            "kind": schedule.kind,
            "description": schedule.describe(),
            **_fires_document(fires, local, after),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return 0
    _print_fires(schedule, fires, local, after, out)
    return 0


def run_explain(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`kairos schedule explain`: the description and the next five fires."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        schedule, zone, after = _prepare(args)
    except (ScheduleError, _ArgumentError) as error:
        return _fail(error, err)
    local = _display_zone(schedule, zone)
    interval = schedule.min_interval()
    rule = _dst_rule(schedule)
    fires = list(schedule.fires(after, zone=zone, limit=EXPLAIN_COUNT))
    # The frequency as the operator wrote it (day and month names stay names).
    written = " ".join(args.frequency.split())
    if getattr(args, "json", False):
        document = {
            "frequency": written,
            "normalized": str(schedule),
            "kind": schedule.kind,
            "description": schedule.describe(),
            "min_interval": interval_words(interval) if interval is not None else None,
            "min_interval_seconds": (
                int(interval.total_seconds()) if interval is not None else None
            ),
            "dst_rule": rule,
            **_fires_document(fires, local, after),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return 0
    print(f"frequency    {written}", file=out)
    print(f"kind         {schedule.kind}", file=out)
    print(f"meaning      {schedule.describe()}", file=out)
    if interval is not None:
        print(f"min interval {interval_words(interval)}", file=out)
    if rule is not None:
        print(f"dst rule     {rule}", file=out)
    print(file=out)
    _print_fires(schedule, fires, local, after, out)
    return 0


def interval_words(interval: timedelta) -> str:
    """A duration in words, largest unit first: ``1 day``, ``2 hours 30 minutes``."""
    seconds = int(interval.total_seconds())
    parts = []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def _dst_rule(schedule: Schedule) -> str | None:
    """How a cron meets daylight-saving changes; None for rate and at."""
    if not isinstance(schedule, CronSchedule):
        return None
    if schedule.interval_like:
        return "interval-like: follows real time (both passes of a fall-back, no gap walls)"
    return "fixed-time: once per wall time (gap walls fire when the gap ends)"


def _fires_document(fires: list[datetime], local: tzinfo, after: datetime) -> dict[str, Any]:
    """The zone, start and fires of a JSON document."""
    return {
        "zone": _zone_name(local),
        "after": _utc(after),
        "fires": [{"utc": _utc(f), "local": f.astimezone(local).isoformat()} for f in fires],
    }


def _prepare(args: argparse.Namespace) -> tuple[Schedule, tzinfo | None, datetime]:
    zone = parse_zone(args.zone).tzinfo if args.zone else None
    after = _parse_after(args.after, zone)
    schedule = parse_frequency(args.frequency)
    return schedule, zone, after


def _parse_after(text: str | None, zone: tzinfo | None) -> datetime:
    if text is None:
        # The CLI is an edge: the engine never reads the clock, this does.
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _ArgumentError(
            f"--after: '{text}' is not an ISO-8601 time such as 2026-05-01T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    try:
        in_utc(moment, text)
    except ValueError as error:
        raise _ArgumentError(f"--after: {error}") from None
    return moment


def _display_zone(schedule: Schedule, zone: tzinfo | None) -> tzinfo:
    own = schedule.own_zone
    if own is not None:
        return own.tzinfo
    return zone or UTC


def _print_fires(
    schedule: Schedule, fires: list[datetime], local: tzinfo, after: datetime, out: TextIO
) -> None:
    if not fires:
        print(f"no fire after {_utc(after)} ({schedule} is exhausted)", file=out)
        return
    label = _zone_name(local)
    print(f"{'UTC':<22}LOCAL ({label})", file=out)
    for fire in fires:
        print(f"{_utc(fire):<22}{fire.astimezone(local):%Y-%m-%d %H:%M:%S %z}", file=out)


def _fail(error: Exception, err: TextIO) -> int:
    code = error.code.value if isinstance(error, ScheduleError) else "InvalidArgument"
    print(f"error: {code}: {error}", file=err)
    return 2


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) else str(zone)
