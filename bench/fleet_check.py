"""Correctness after each phase of the fleet benchmark: nothing open, lost, doubled or aborted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.enums import FINAL_STATUSES, InvocationStatus
from scheduler.store.tables import executions


@dataclass(kw_only=True, frozen=True)
class Check:
    """What one phase left behind, against what its callers asked for.

    ``stored`` is None against the bare server (no database): there the
    executions are the results the fleet had acknowledged.
    """

    phase: str
    requested: int  # instances named by every call so far
    executions: int
    not_final: int = 0
    duplicated: int = 0  # (invocation, instance) pairs with more than one execution
    aborted: int = 0  # the benchmark injects no fault: any Aborted is the server's
    not_success: int = 0  # every simulated agent answers Success
    not_success_codes: tuple[tuple[str, int], ...] = ()  # ("Aborted/DeliveryTimeout", n), …
    seen_twice: int = 0  # tasks the fleet was sent more than once
    stored: bool = True

    def failures(self) -> list[str]:
        """Each broken rule, in words; empty when the phase is correct."""
        rules = [
            (
                self.executions != self.requested,
                f"{self.executions} of {self.requested} executions",
            ),
            (self.not_final > 0, f"{self.not_final} not final"),
            (self.duplicated > 0, f"{self.duplicated} duplicated"),
            (self.aborted > 0, f"{self.aborted} Aborted"),
            (
                self.not_success > 0,
                f"{self.not_success} not Success ("
                + ", ".join(f"{code} {n}" for code, n in self.not_success_codes)
                + ")",
            ),
            (self.seen_twice > 0, f"{self.seen_twice} tasks seen twice"),
        ]
        return [words for broken, words in rules if broken]

    def line(self) -> str:
        """One printed line: the phase, what was checked, and ok or what failed."""
        where = "SQL + fleet" if self.stored else "fleet"
        failures = self.failures()
        verdict = "ok" if not failures else "FAILED: " + ", ".join(failures)
        return f"{self.phase}: {self.executions} executions ({where}) {verdict}"


async def stored_check(
    engine: AsyncEngine, *, phase: str, requested: int, seen_twice: int
) -> Check:
    """Read every execution's status from the database and check them."""
    pair = select(executions.c.invocation_id, executions.c.instance_id).group_by(
        executions.c.invocation_id, executions.c.instance_id
    )
    async with engine.connect() as connection:
        counts: dict[str, int] = dict(
            (
                await connection.execute(
                    select(executions.c.status, func.count()).group_by(executions.c.status)
                )
            )
            .tuples()
            .all()  # a list: a Result has keys(), which dict() would misread
        )
        codes = (
            (
                await connection.execute(
                    select(executions.c.status, executions.c.error_code, func.count())
                    .where(executions.c.status != InvocationStatus.SUCCESS.value)
                    .group_by(executions.c.status, executions.c.error_code)
                    .order_by(func.count().desc())
                )
            )
            .tuples()
            .all()
        )
        duplicated = await connection.scalar(
            select(func.count()).select_from(pair.having(func.count() > 1).subquery())
        )
    final = {status.value for status in FINAL_STATUSES}
    return Check(
        phase=phase,
        requested=requested,
        executions=sum(counts.values()),
        not_final=sum(n for status, n in counts.items() if status not in final),
        duplicated=duplicated or 0,
        aborted=counts.get(InvocationStatus.ABORTED.value, 0),
        not_success=sum(
            n for status, n in counts.items() if status != InvocationStatus.SUCCESS.value
        ),
        not_success_codes=tuple((f"{status}/{code or '-'}", n) for status, code, n in codes),
        seen_twice=seen_twice,
    )
