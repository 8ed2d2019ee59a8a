"""The container id and name rules of an invocation (scheduler/domain/containers.py)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.containers import check_container, split_container_id
from scheduler.domain.enums import CommandType
from scheduler.domain.errors import ErrorKind, KairosError

from .expect import assert_refusal

INVALID = ErrorKind.INVALID_ARGUMENT
SHELL = CommandType.RUN_SHELL_SCRIPT
HEX = "0123456789abcdefABCDEF"
NAME_FIRST = string.ascii_letters + string.digits
NAME_REST = NAME_FIRST + "._-"

hex_ids = st.text(HEX, min_size=64, max_size=64)
prefixes = st.sampled_from(["", "docker://", "containerd://", "cri-o://"])
names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(NAME_FIRST),
    st.text(NAME_REST, max_size=254),
)


@given(prefixes, hex_ids)
def test_a_64_hex_id_with_a_known_prefix_or_none_is_accepted(prefix: str, bare: str) -> None:
    check_container(prefix + bare, "", SHELL)
    assert split_container_id(prefix + bare) == (prefix.removesuffix("://"), bare)


@given(names)
def test_a_name_of_the_pattern_is_accepted(name: str) -> None:
    check_container("", name, SHELL)


@given(st.text(max_size=80).filter(lambda t: not (len(t) == 64 and set(t) <= set(HEX))))
def test_an_id_other_than_64_hex_is_refused(bare: str) -> None:
    for prefix in ("", "docker://"):
        if not prefix + bare:
            continue
        with pytest.raises(KairosError) as info:
            check_container(prefix + bare, "", SHELL)
        assert_refusal(info.value, INVALID, "InvalidParam.ContainerId", "container_id", "64")


@pytest.mark.parametrize("prefix", ["podman://", "DOCKER://", "docker:/", "://", "cri-o:"])
def test_an_unknown_runtime_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(KairosError) as info:
        check_container(prefix + "a" * 64, "", SHELL)
    assert_refusal(info.value, INVALID, "InvalidParam.ContainerId", "container_id", "docker://")


@given(
    st.text(min_size=1, max_size=300).filter(
        lambda t: not (t[0] in NAME_FIRST and set(t[1:]) <= set(NAME_REST) and len(t) <= 255)
    )
)
def test_a_name_off_the_pattern_is_refused(name: str) -> None:
    with pytest.raises(KairosError) as info:
        check_container("", name, SHELL)
    assert_refusal(info.value, INVALID, "InvalidParam.ContainerName", "container_name", "254")


def test_the_longest_name_is_255_characters() -> None:
    check_container("", "a" * 255, SHELL)
    with pytest.raises(KairosError):
        check_container("", "a" * 256, SHELL)


@pytest.mark.parametrize("kind", [CommandType.RUN_POWER_SHELL_SCRIPT, CommandType.RUN_BAT_SCRIPT])
@pytest.mark.parametrize(
    ("container_id", "container_name", "field"),
    [
        ("a" * 64, "", "container_id"),
        ("", "web", "container_name"),
        ("a" * 64, "web", "container_id"),
    ],
)
def test_only_shell_scripts_run_in_a_container(
    kind: CommandType, container_id: str, container_name: str, field: str
) -> None:
    with pytest.raises(KairosError) as info:
        check_container(container_id, container_name, kind)
    assert_refusal(info.value, INVALID, "InvalidParam.Container", field, kind.value)


def test_no_container_is_no_rule() -> None:
    check_container("", "", CommandType.RUN_BAT_SCRIPT)


def test_split_without_a_prefix() -> None:
    assert split_container_id("a" * 64) == ("", "a" * 64)
    assert split_container_id("podman://" + "a" * 64) == ("podman", "a" * 64)
