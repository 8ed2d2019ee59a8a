"""How many WatchInvocation streams each account holds open on this replica."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from scheduler.domain.codes import QuotaName, RefusalCode
from scheduler.domain.errors import quota_exceeded
from scheduler.domain.tenancy import Tenant


class WatchSlots:
    """At most ``limit`` concurrent watches per account and region, per server replica.

    A watch holds server memory and a database read per change for as long as
    it is open; the cap keeps one account's watchers from crowding out the rest.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[Tenant] = Counter()

    @contextlib.contextmanager
    def hold(self, tenant: Tenant) -> Iterator[None]:
        """One watch slot for the block; RESOURCE_EXHAUSTED when the account has none left."""
        if self._open[tenant] >= self._limit:
            raise quota_exceeded(
                RefusalCode.QUOTA_EXCEED_WATCH,
                QuotaName.MAX_WATCH_COUNT,
                f"the account already has {self._limit} watches open on this server, the "
                "limit; close one first",
            )
        self._open[tenant] += 1
        try:
            yield
        finally:
            self._open[tenant] -= 1
            if not self._open[tenant]:
                del self._open[tenant]
