"""The schedule engine: when a frequency (cron, rate or at) fires, exactly, in any zone.

Pure: no I/O beyond the tz database, no clock reads; time is always an argument.
See SPEC §5 and docs/schedules.md.
"""

from scheduler.schedule.at import AtSchedule
from scheduler.schedule.base import Schedule
from scheduler.schedule.cron import CronSchedule
from scheduler.schedule.errors import ErrorCode, ScheduleError
from scheduler.schedule.frequency import parse_frequency
from scheduler.schedule.interval import MIN_INTERVAL
from scheduler.schedule.rate import MAX_RATE, RateSchedule
from scheduler.schedule.zones import Zone, parse_zone

__all__ = [
    "MAX_RATE",
    "MIN_INTERVAL",
    "AtSchedule",
    "CronSchedule",
    "ErrorCode",
    "RateSchedule",
    "Schedule",
    "ScheduleError",
    "Zone",
    "parse_frequency",
    "parse_zone",
]
