"""Invocations by selector: which instances join or leave a periodic or boot invocation
when tags change. Pure.

A selector (``resource_tags``) is resolved at every fire. Rather than at the fire
itself, membership is kept up to date where it can change — in the transaction that
changes an instance's tags, and when the invocation is created — so that the ticker
fires armed targets as it always does: an instance that gains the tags joins with
its next fire computed like any target's first (``invocation.next_fires``), one that
loses them is disarmed (its history stays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import RepeatMode
from scheduler.domain.errors import invalid, not_found
from scheduler.domain.invocation import next_fires
from scheduler.domain.models import Instance, InvocationSettings
from scheduler.domain.tags import matches


@dataclass(frozen=True, kw_only=True)
class SelectorInvocation:
    """A periodic or boot invocation by selector that may still fire (not stopped)."""

    id: str
    selector: Mapping[str, str]
    settings: InvocationSettings
    created_at: datetime


@dataclass(frozen=True)
class Member:
    """An instance's target in a selector invocation, as it is."""

    armed: bool
    repeats: int


@dataclass(frozen=True, kw_only=True)
class Arming:
    """A target to arm (a new one, or one that left and matches again), and its next fire."""

    invocation_id: str
    instance_id: str
    next_fire_at: datetime | None
    new: bool


@dataclass(frozen=True)
class Moves:
    """How the targets of selector invocations change for some instances."""

    armed: list[Arming]
    left: list[tuple[str, str]]
    """(invocation id, instance id) of the targets that no longer match: to disarm."""


def membership_moves(
    invocations: Sequence[SelectorInvocation],
    instances: Sequence[Instance],
    tags: Mapping[str, Mapping[str, str]],
    members: Mapping[tuple[str, str], Member],
    *,
    now: datetime,
) -> Moves:
    """The moves that make these invocations' targets among ``instances`` (of one tenant,
    with their effective ``tags`` by instance id) exactly the matching instances.

    A matching instance without a target joins; one whose target left (disarmed) and
    can fire again is re-armed; an armed target whose instance no longer matches
    leaves. An instance with no fire to come (an exhausted schedule, a
    NEXT_REBOOT_ONLY target that ran) is not armed.
    """
    armed: list[Arming] = []
    left: list[tuple[str, str]] = []
    for invocation in invocations:
        for instance in instances:
            member = members.get((invocation.id, instance.id))
            if not matches(invocation.selector, tags.get(instance.id, {})):
                if member is not None and member.armed:
                    left.append((invocation.id, instance.id))
                continue
            if member is not None and (member.armed or not _rejoins(invocation, member)):
                continue
            [planned] = next_fires(
                invocation.settings,
                [instance],
                invoke_id=invocation.id,
                now=now,
                created_at=invocation.created_at,
            )
            if (
                invocation.settings.repeat_mode is RepeatMode.PERIOD
                and planned.next_fire_at is None
            ):
                continue
            armed.append(
                Arming(
                    invocation_id=invocation.id,
                    instance_id=instance.id,
                    next_fire_at=planned.next_fire_at,
                    new=member is None,
                )
            )
    return Moves(armed=armed, left=left)


def _rejoins(invocation: SelectorInvocation, member: Member) -> bool:
    """Whether a target that left may be armed again: not a NEXT_REBOOT_ONLY one that ran."""
    return not (
        invocation.settings.repeat_mode is RepeatMode.NEXT_REBOOT_ONLY and member.repeats > 0
    )


def check_selected(
    matched: int, *, limit: int, immediate: bool, selector: Mapping[str, str]
) -> None:
    """Refuse a selector that matches more than ``limit`` instances, or (for a run at
    once) none; ``matched`` counts up to ``limit + 1``."""
    if matched > limit:
        raise invalid(
            RefusalCode.INVALID_RESOURCE_TAG_TOO_MANY_INSTANCES,
            "resource_tags",
            f"resource_tags matches more than {limit} instances "
            "(the server's --max-instances-per-selector)",
        )
    if immediate and matched == 0:
        described = ", ".join(f"{k}={v}" if v else k for k, v in selector.items())
        raise not_found(
            RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND,
            f"no instance has the tags of resource_tags ({described})",
        )


def check_targeting(instance_ids: Sequence[str], resource_tags: Sequence[object]) -> None:
    """Refuse an invocation that names both instance ids and a selector."""
    if instance_ids and resource_tags:
        raise invalid(
            RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
            "resource_tags",
            "give instance_ids or resource_tags, not both",
        )
