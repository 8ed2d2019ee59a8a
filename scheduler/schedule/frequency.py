"""`parse_frequency`: the one entry point that turns frequency text into a `Schedule`."""

from datetime import datetime

from scheduler.schedule.at import parse_at
from scheduler.schedule.base import Schedule
from scheduler.schedule.cron_parse import parse_cron
from scheduler.schedule.errors import ErrorCode, ScheduleError
from scheduler.schedule.rate import parse_rate


def parse_frequency(text: str, *, anchor: datetime | None = None) -> Schedule:
    """Parse a frequency of SPEC §5: `rate(...)`, `at(...)` or a Quartz-style cron.

    `anchor` (timezone-aware) anchors a rate's grid: fires at anchor + k·interval,
    k ≥ 1; without it the grid starts at each query's `after`. Raises
    `ScheduleError` with a code and a message naming the offending field.
    """
    stripped = text.strip()
    if not stripped:
        raise ScheduleError(ErrorCode.INVALID_CRON, "frequency: empty expression")
    lowered = stripped.lower()
    if lowered.startswith("rate"):
        return parse_rate(stripped, anchor)
    if lowered.startswith("at"):
        return parse_at(stripped)
    if stripped[0].isalpha():
        # A cron expression starts with the seconds field, never with a word.
        raise ScheduleError(
            ErrorCode.INVALID_CRON,
            f"frequency: '{stripped}' is not rate(<n><s|m|h|d>), at(yyyy-MM-dd HH:mm:ss [zone]) "
            "or a cron expression (sec min hour day-of-month month day-of-week [year] [zone])",
        )
    return parse_cron(stripped)
