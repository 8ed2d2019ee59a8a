"""What every schedule offers: next fire, fires, minimum interval, description."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

from scheduler.schedule.zones import Zone


class Schedule(ABC):
    """A parsed frequency (cron, rate or at); immutable, comparable, hashable."""

    __slots__ = ()

    @property
    @abstractmethod
    def kind(self) -> str:
        """`cron`, `rate` or `at`."""

    @property
    def is_one_shot(self) -> bool:
        """True for `at`: the schedule fires once and is then exhausted."""
        return False

    @property
    def own_zone(self) -> Zone | None:
        """The zone written in the expression, if any.

        A cron without one runs in the instance's zone, passed as `zone=` to
        `next_fire`; `at` without one is UTC; `rate` ignores zones.
        """
        return None

    @property
    def uses_instance_zone(self) -> bool:
        """True when fires depend on the `zone=` argument (a cron without a zone token)."""
        return False

    @abstractmethod
    def next_fire(self, after: datetime, *, zone: tzinfo | None = None) -> datetime | None:
        """The first fire strictly after `after` (timezone-aware), as an aware UTC datetime.

        `zone` is the instance's zone, used only by a cron expression without
        its own zone token (default UTC). Returns None once the schedule is
        exhausted (year range over, `at` instant passed).
        """

    def fires(
        self, after: datetime, *, zone: tzinfo | None = None, limit: int | None = None
    ) -> Iterator[datetime]:
        """Successive fires strictly after `after`, at most `limit` of them."""
        count = 0
        current = after
        while limit is None or count < limit:
            following = self.next_fire(current, zone=zone)
            if following is None:
                return
            yield following
            current = following
            count += 1

    @abstractmethod
    def min_interval(self) -> timedelta | None:
        """The exact smallest gap between consecutive fires (wall clock for cron).

        None when the schedule fires at most once.
        """

    @abstractmethod
    def describe(self) -> str:
        """An English sentence saying when the schedule fires."""
