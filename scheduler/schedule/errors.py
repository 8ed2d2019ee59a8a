"""The one error type of the schedule engine and its codes."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a frequency was refused; the value is the code shown to users.

    ``kairos schedule`` prints it as it is; the API refuses with it under
    ``InvalidParam.Frequency.`` (the domain maps each member to its ``RefusalCode``).
    """

    INVALID_CRON = "InvalidCronExpression"
    """A cron expression that is malformed: wrong token count, junk, out-of-range values."""

    INVALID_RATE = "InvalidRateExpression"
    """A `rate(...)` that is malformed or longer than the 7-day maximum."""

    INVALID_AT = "InvalidAtExpression"
    """An `at(...)` that is malformed or names a date that does not exist."""

    INVALID_TIME_ZONE = "InvalidTimeZone"
    """A zone token that is not an IANA name, UTC/GMT or a GMT±H:MM offset."""

    INTERVAL_TOO_SHORT = "IntervalTooShort"
    """Two consecutive fires could be closer than the 10-second minimum."""

    NEVER_FIRES = "NeverFires"
    """A syntactically valid cron expression that matches no time in 1970–2099."""


class ScheduleError(ValueError):
    """A frequency that cannot be used; `code` says why, the message names the field."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ScheduleError({self.code.value!r}, {self.message!r})"
