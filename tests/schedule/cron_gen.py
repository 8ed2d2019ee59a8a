"""Random cron expressions in the dialect both Kairos and Quartz 2.3 accept.

Used by the Quartz differential test. Day fields always pair a restricted
field with `?` (Quartz refuses `*` beside a restricted day field) and ranges
spell both ends alike (Quartz refuses `MON-5`); see docs/schedules.md,
"Differences from Quartz".
"""

import random
from dataclasses import dataclass

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class Case:
    """One generated expression: the six or seven Quartz fields and an optional zone."""

    fields: str
    zone_token: str | None
    java_zone: str

    @property
    def kairos_text(self) -> str:
        """The expression as Kairos reads it (zone token appended)."""
        return self.fields if self.zone_token is None else f"{self.fields} {self.zone_token}"


# (our token, Java's TimeZone id); none of these zones has had DST since 1992.
ZONES = (
    (None, "UTC"),
    ("UTC", "UTC"),
    ("GMT+5:30", "GMT+05:30"),
    ("GMT-3", "GMT-03:00"),
    ("UTC+14:00", "GMT+14:00"),
    ("Asia/Kolkata", "Asia/Kolkata"),
    ("asia/shanghai", "Asia/Shanghai"),
)


def random_case(rng: random.Random) -> Case:
    """A random expression; it may still be refused by Kairos (too frequent, never fires)."""
    second = _plain(rng, 0, 59, dense=False)
    minute = _plain(rng, 0, 59, dense=True)
    hour = _plain(rng, 0, 23, dense=True)
    month = _plain(rng, 1, 12, dense=True, names=MONTHS)
    roll = rng.random()
    if roll < 0.2:
        day_of_month, day_of_week = rng.choice((("*", "?"), ("?", "*")))
    elif roll < 0.6:
        day_of_month, day_of_week = _day_of_month(rng), "?"
    else:
        day_of_month, day_of_week = "?", _day_of_week(rng)
    tokens = [second, minute, hour, day_of_month, month, day_of_week]
    if rng.random() < 0.35:
        tokens.append(_year(rng))
    zone_token, java_zone = rng.choice(ZONES)
    text = " ".join(tokens)
    if rng.random() < 0.3:
        text = text.lower()
    return Case(text, zone_token, java_zone)


def _plain(
    rng: random.Random, low: int, high: int, *, dense: bool, names: tuple[str, ...] = ()
) -> str:
    """A list, range, wrap-around range, step or `*` over [low, high]."""

    # Quartz wants both ends of a range spelled alike (both names or both numbers).
    use_names = bool(names) and rng.random() < 0.4

    def value() -> str:
        number = rng.randint(low, high)
        return names[number - low] if use_names else str(number)

    kind = rng.random()
    if kind < (0.25 if dense else 0.1):
        return "*"
    if kind < 0.45:
        return value()
    if kind < 0.6:
        return ",".join(value() for _ in range(rng.randint(2, 4)))
    if kind < 0.75:
        return f"{value()}-{value()}"
    if kind < 0.85:
        return f"{rng.randint(low, high)}/{rng.randint(1, high)}"
    if kind < 0.92:
        return f"*/{rng.randint(1, high)}"
    return f"{rng.randint(low, high)}-{rng.randint(low, high)}/{rng.randint(1, high)}"


def _day_of_month(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        return _plain(rng, 1, 31, dense=False)
    if kind < 0.65:
        return "L"
    if kind < 0.75:
        # Up to L-30, so months too short for the offset (no fire) are covered.
        return f"L-{rng.randint(1, 30)}"
    if kind < 0.82:
        return "LW"
    return f"{rng.randint(1, 31)}W"


def _day_of_week(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        return _plain(rng, 1, 7, dense=False, names=DAYS)
    if kind < 0.6:
        return "L"
    day = str(rng.randint(1, 7)) if rng.random() < 0.7 else rng.choice(DAYS)
    if kind < 0.78:
        return f"{day}L"
    return f"{day}#{rng.randint(1, 5)}"


def _year(rng: random.Random) -> str:
    kind = rng.random()
    first = rng.randint(1992, 2090)
    if kind < 0.3:
        return str(first)
    if kind < 0.7:
        return f"{first}-{rng.randint(first, 2099)}"
    if kind < 0.85:
        return ",".join(str(rng.randint(1992, 2099)) for _ in range(rng.randint(2, 3)))
    return f"{first}/{rng.randint(1, 20)}"
