"""Tags and selectors: Cloud Assistant's limits, and what "matches" means. Pure rules.

A resource (instance, command, invocation, activation) carries at most ``MAX_TAGS``
tags set through the API; an instance also carries the tags its agent reports in its
Hello (at most ``MAX_TAGS`` too). Where both have a key, the API tag wins. A selector
is a list of tags that must all match; a selector tag with an empty value only asks
for the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid

MAX_TAGS = 20
"""Tags per resource (of each source), and per request."""
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 128
RESERVED_PREFIXES = ("acs:", "aliyun")
"""Key prefixes Alibaba Cloud keeps for itself, refused in any letter case."""
MAX_RESOURCE_IDS = 50
"""Resources named in one tag call (Cloud Assistant's ``ResourceId.N``)."""


@dataclass(frozen=True, order=True)
class Tag:
    """One key and its value."""

    key: str
    value: str


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a tag key, or None when it can."""
    if not key.strip():
        return "is empty"
    if len(key) > MAX_TAG_KEY:
        return f"is {len(key)} characters long; the limit is {MAX_TAG_KEY}"
    if key.lower().startswith(RESERVED_PREFIXES):
        return f"starts with {' or '.join(RESERVED_PREFIXES)}, which are reserved"
    return None


def check_tag_keys(keys: Sequence[str], field_name: str = "tag_keys") -> list[str]:
    """Return the keys, each valid and given once, at most ``MAX_TAGS`` of them."""
    _check_count(len(keys), field_name)
    _check_keys(keys, [f"{field_name}[{index}]" for index in range(len(keys))])
    return list(keys)


def check_tags(tags: Sequence[Tag], field_name: str = "tags") -> dict[str, str]:
    """Return the tags as key → value (in request order): each key valid and given once,
    each value within ``MAX_TAG_VALUE`` characters, at most ``MAX_TAGS`` of them."""
    _check_count(len(tags), field_name)
    _check_keys([t.key for t in tags], [f"{field_name}[{index}].key" for index in range(len(tags))])
    for index, tag in enumerate(tags):
        if len(tag.value) > MAX_TAG_VALUE:
            name = f"{field_name}[{index}].value"
            raise invalid(
                RefusalCode.INVALID_TAG_VALUE_MALFORMED,
                name,
                f"{name} is {len(tag.value)} characters long; the limit is {MAX_TAG_VALUE}",
            )
    return {t.key: t.value for t in tags}


def _check_keys(keys: Sequence[str], names: Sequence[str]) -> None:
    seen: set[str] = set()
    for key, name in zip(keys, names, strict=True):
        problem = key_problem(key)
        if problem is not None:
            raise invalid(RefusalCode.INVALID_TAG_KEY_MALFORMED, name, f"{name} {problem}")
        if key in seen:
            raise invalid(
                RefusalCode.INVALID_TAG_KEY_MALFORMED, name, f"{name} '{key}' is given twice"
            )
        seen.add(key)


def _check_count(count: int, field_name: str) -> None:
    if count > MAX_TAGS:
        raise invalid(
            RefusalCode.INVALID_TAG_COUNT,
            field_name,
            f"{field_name} has {count} tags; the limit is {MAX_TAGS}",
        )


def check_tag_total(resource_id: str, total: int) -> None:
    """Refuse a resource that would end up with more than ``MAX_TAGS`` API tags."""
    if total > MAX_TAGS:
        raise invalid(
            RefusalCode.INVALID_TAG_COUNT,
            "tags",
            f"{resource_id} would have {total} tags; the limit is {MAX_TAGS} per resource",
        )


def check_resource_ids(resource_ids: Sequence[str], *, required: bool = True) -> list[str]:
    """The distinct resource ids in request order: non-empty, at most ``MAX_RESOURCE_IDS``,
    stripped as instance ids are (``limits.check_instance_ids``): an id that reaches one
    call reaches every other."""
    distinct = list(dict.fromkeys(i.strip() for i in resource_ids))
    if any(not i for i in distinct):
        raise invalid(
            RefusalCode.INVALID_RESOURCE_ID, "resource_ids", "resource_ids has an empty id"
        )
    if required and not distinct:
        raise invalid(RefusalCode.INVALID_RESOURCE_ID, "resource_ids", "resource_ids is required")
    if len(distinct) > MAX_RESOURCE_IDS:
        raise invalid(
            RefusalCode.INVALID_RESOURCE_ID,
            "resource_ids",
            f"{len(distinct)} resource ids given; the limit is {MAX_RESOURCE_IDS}",
        )
    return distinct


def effective(api: Mapping[str, str], reported: Mapping[str, str]) -> dict[str, str]:
    """A resource's tags: the reported ones, each overridden by an API tag of its key."""
    return {**reported, **api}


def matches(selector: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """Whether a resource with ``tags`` (effective) has every tag of ``selector``: the
    same value, or just the key where the selector's value is empty."""
    return all(
        key in tags and (value == "" or tags[key] == value) for key, value in selector.items()
    )


def parse_tag(text: str) -> Tag:
    """``key=value`` (or ``key``: an empty value) as a tag; the first ``=`` splits.

    For the command line and the agent's ``--tag``: the value is not checked here.
    """
    key, _, value = text.partition("=")
    return Tag(key, value)


def tags_of(pairs: Iterable[tuple[str, str]]) -> list[Tag]:
    """Tags from (key, value) pairs, sorted by key: a stable order to show and compare."""
    return sorted(Tag(k, v) for k, v in pairs)
