"""The pure tag rules: Cloud Assistant's limits and what a selector matches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import KairosError
from scheduler.domain.tags import (
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    Tag,
    check_resource_ids,
    check_tag_keys,
    check_tags,
    effective,
    key_problem,
    matches,
    parse_tag,
)

keys = st.text(min_size=0, max_size=MAX_TAG_KEY + 3)
values = st.text(max_size=MAX_TAG_VALUE + 3)
small_maps = st.dictionaries(st.sampled_from("abcde"), st.sampled_from(["", "x", "y"]), max_size=5)


def allowed(key: str) -> bool:
    """The rule, said once more independently of the code."""
    lowered = key.lower()
    return (
        key.strip() != ""
        and len(key) <= MAX_TAG_KEY
        and not lowered.startswith("acs:")
        and not lowered.startswith("aliyun")
    )


@given(keys)
def test_a_key_is_allowed_exactly_by_the_rule(key: str) -> None:
    assert (key_problem(key) is None) == allowed(key)


@given(st.lists(st.tuples(keys, values), max_size=MAX_TAGS + 3))
def test_check_tags_accepts_exactly_the_valid_lists(pairs: list[tuple[str, str]]) -> None:
    given_tags = [Tag(k, v) for k, v in pairs]
    valid = (
        len(pairs) <= MAX_TAGS
        and all(allowed(k) for k, _ in pairs)
        and len({k for k, _ in pairs}) == len(pairs)
        and all(len(v) <= MAX_TAG_VALUE for _, v in pairs)
    )
    try:
        result = check_tags(given_tags)
    except KairosError as error:
        assert not valid
        assert error.code in {
            RefusalCode.INVALID_TAG_COUNT,
            RefusalCode.INVALID_TAG_KEY_MALFORMED,
            RefusalCode.INVALID_TAG_VALUE_MALFORMED,
        }
        assert len(error.violations) == 1 and error.violations[0].field.startswith("tags")
    else:
        assert valid
        assert result == dict(pairs)


def test_the_first_broken_rule_is_named() -> None:
    with pytest.raises(KairosError) as raised:
        check_tags([Tag("a", ""), Tag("a", "b")])
    assert raised.value.violations[0].field == "tags[1].key"
    assert "given twice" in raised.value.message
    with pytest.raises(KairosError) as raised:
        check_tag_keys([f"k{n}" for n in range(MAX_TAGS + 1)])
    assert raised.value.code is RefusalCode.INVALID_TAG_COUNT


@given(small_maps, small_maps)
def test_a_selector_matches_when_every_tag_is_there(
    selector: dict[str, str], tags: dict[str, str]
) -> None:
    expected = all(k in tags and v in ("", tags[k]) for k, v in selector.items())
    assert matches(selector, tags) is expected
    assert matches({}, tags)
    assert matches(tags, tags)


@given(small_maps, small_maps)
def test_api_tags_win_over_reported_ones(api: dict[str, str], reported: dict[str, str]) -> None:
    result = effective(api, reported)
    assert set(result) == set(api) | set(reported)
    for key, value in result.items():
        assert value == (api[key] if key in api else reported[key])


@given(st.text(alphabet="ab=", max_size=6))
def test_parse_tag_splits_at_the_first_equals(text: str) -> None:
    tag = parse_tag(text)
    assert (tag.key + "=" + tag.value if "=" in text else tag.key) == text
    assert "=" not in tag.key


def test_resource_ids_are_stripped_as_instance_ids_are() -> None:
    # Before, " i-1" was i-1 to DescribeInstances and unknown (NOT_FOUND) to TagResources.
    assert check_resource_ids([" i-1", "i-1 ", "c-2"]) == ["i-1", "c-2"]
    with pytest.raises(KairosError):
        check_resource_ids(["i-1", "  "])
