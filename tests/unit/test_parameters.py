"""SPEC §4 parameters: placeholders, names, built-ins, values and rendering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.parameters import (
    BUILT_IN_NAMES,
    BuiltIns,
    check_parameters,
    parameter_names,
    render,
)

from .expect import assert_refusal

INVALID = ErrorKind.INVALID_ARGUMENT
BUILT_INS = BuiltIns(
    region_id="cn-hangzhou",
    account_id="123456789",
    instance_id="i-abc",
    instance_name="web-1",
    invoke_id="t-123",
    command_id="c-456",
)
NAME_CHARS = st.sampled_from("ABCXYZabcxyz0189_-")


def names(script: bytes, max_parameters: int = 20) -> list[str]:
    return parameter_names(script, max_parameters)


# --- finding names -------------------------------------------------------------------------


def test_no_placeholders() -> None:
    assert names(b"echo hello; echo {single} ${HOME} {{") == []


def test_names_in_order_of_first_use_without_repeats() -> None:
    script = b"echo {{b}} {{a}} {{b}} {{c}} {{a}}"
    assert names(script) == ["b", "a", "c"]


def test_spaces_inside_braces_are_ignored() -> None:
    assert names(b"{{ name }} {{name}} {{   name}} {{other  }}") == ["name", "other"]


def test_name_alphabet_and_length() -> None:
    longest = "a" * 64
    script = f"{{{{A-z_0-9}}}} {{{{{longest}}}}} {{{{-}}}} {{{{_}}}}".encode()
    assert names(script) == ["A-z_0-9", longest, "-", "_"]


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{" + "a" * 65 + "}}",
        "{{}}",
        "{{   }}",
        "{{a b}}",
        "{{a.b}}",
        "{{na$me}}",
        "{{ü}}",
        "{{acs::InstanceId}}",
        "{{ACS:InstanceId}}",
        "{{x::y}}",
    ],
)
def test_invalid_names_are_refused(placeholder: str) -> None:
    with pytest.raises(KairosError) as info:
        names(f"echo {placeholder}".encode())
    assert_refusal(
        info.value, INVALID, "InvalidParam.CommandContent", "command_content", "invalid", "1-64"
    )


def test_invalid_utf8_in_a_name_is_refused_not_crashed() -> None:
    with pytest.raises(KairosError) as info:
        names(b"echo {{\xff\xfe}}")
    assert info.value.code == "InvalidParam.CommandContent"


def test_twenty_names_pass_twenty_one_fail() -> None:
    twenty = " ".join(f"{{{{p{k}}}}}" for k in range(20))
    assert names(twenty.encode()) == [f"p{k}" for k in range(20)]
    # Repeats and built-ins do not count towards the limit.
    assert len(names((twenty + " {{p0}} {{ACS::InstanceId}}").encode())) == 20
    with pytest.raises(KairosError) as info:
        names((twenty + " {{p20}}").encode())
    assert_refusal(
        info.value, INVALID, "InvalidParam.CommandContent", "command_content", "21", "20"
    )


def test_parameter_limit_is_configurable() -> None:
    assert names(b"{{a}} {{b}}", 2) == ["a", "b"]
    with pytest.raises(KairosError):
        names(b"{{a}} {{b}} {{c}}", 2)


def test_built_ins_are_not_custom_names() -> None:
    script = " ".join(f"{{{{ACS::{n}}}}}" for n in sorted(BUILT_IN_NAMES)).encode()
    assert names(script) == []
    assert names(b"{{ ACS::InstanceId }} {{x}}") == ["x"]


def test_every_spec_built_in_is_known() -> None:
    assert {
        "RegionId",
        "AccountId",
        "InstanceId",
        "InstanceName",
        "InvokeId",
        "CommandId",
    } == BUILT_IN_NAMES


@pytest.mark.parametrize("name", ["ACS::Unknown", "ACS::", "ACS::instanceid", "ACS::InstanceId2"])
def test_unknown_built_in_is_refused(name: str) -> None:
    with pytest.raises(KairosError) as info:
        names(f"echo {{{{{name}}}}}".encode())
    assert_refusal(
        info.value,
        INVALID,
        "InvalidParam.CommandContent",
        "command_content",
        name,
        "built-in",
        "ACS::InstanceId",
    )


def test_nested_braces_take_the_innermost_pair() -> None:
    assert names(b"{{{a}}} {{{{b}}}}") == ["a", "b"]


@given(st.lists(st.text(NAME_CHARS, min_size=1, max_size=64), max_size=40))
def test_names_are_the_distinct_names_in_order(used: list[str]) -> None:
    script = "\n".join(f"echo {{{{ {n} }}}}" for n in used).encode()
    distinct = list(dict.fromkeys(used))
    if len(distinct) <= 20:
        assert names(script) == distinct
    else:
        with pytest.raises(KairosError):
            names(script)


# --- values --------------------------------------------------------------------------------


def test_defined_but_not_given_is_empty() -> None:
    assert check_parameters(["a", "b"], {"a": "1"}, enabled=True) == {"a": "1", "b": ""}


def test_values_are_kept_as_given() -> None:
    given_values = {"a": "", "b": " spaced {{x}} ", "c": "ü\n"}
    assert check_parameters(["a", "b", "c"], given_values, enabled=True) == given_values


def test_undefined_names_given_fail_and_are_named() -> None:
    with pytest.raises(KairosError) as info:
        check_parameters(["a"], {"a": "1", "zeta": "2", "beta": "3"}, enabled=True)
    assert_refusal(info.value, INVALID, "InvalidParam.Parameters", "parameters", "beta, zeta")


def test_undefined_name_given_with_no_names_defined_fails() -> None:
    with pytest.raises(KairosError) as info:
        check_parameters([], {"a": "1"}, enabled=True)
    assert_refusal(info.value, INVALID, "InvalidParam.Parameters", "parameters", "a")


def test_parameters_given_while_disabled_fail() -> None:
    with pytest.raises(KairosError) as info:
        check_parameters(["a"], {"a": "1"}, enabled=False)
    assert_refusal(info.value, INVALID, "InvalidParam.Parameters", "parameters", "enable_parameter")


def test_disabled_without_values_substitutes_nothing() -> None:
    assert check_parameters([], {}, enabled=False) == {}


def test_built_in_names_cannot_be_given() -> None:
    with pytest.raises(KairosError) as info:
        check_parameters(["a"], {"ACS::InstanceId": "forged"}, enabled=True)
    assert info.value.code == "InvalidParam.Parameters"


# --- rendering -----------------------------------------------------------------------------


def test_render_substitutes_custom_values_everywhere() -> None:
    script = b"echo {{a}} {{ a }} {{b}}; echo {{b}}"
    assert render(script, {"a": "1", "b": ""}, BUILT_INS) == b"echo 1 1 ; echo "


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RegionId", "cn-hangzhou"),
        ("AccountId", "123456789"),
        ("InstanceId", "i-abc"),
        ("InstanceName", "web-1"),
        ("InvokeId", "t-123"),
        ("CommandId", "c-456"),
    ],
)
def test_render_every_built_in(name: str, value: str) -> None:
    assert render(f"<{{{{ACS::{name}}}}}>".encode(), {}, BUILT_INS) == f"<{value}>".encode()
    assert render(f"<{{{{ ACS::{name} }}}}>".encode(), {}, BUILT_INS) == f"<{value}>".encode()


def test_render_is_one_pass() -> None:
    # A value that looks like a placeholder is inserted literally.
    rendered = render(b"{{a}} {{b}}", {"a": "{{b}}", "b": "{{ACS::InstanceId}}"}, BUILT_INS)
    assert rendered == b"{{b}} {{ACS::InstanceId}}"


def test_render_encodes_values_as_utf8_and_keeps_other_bytes() -> None:
    assert render(b"\xff{{a}}\xfe", {"a": "ü"}, BUILT_INS) == b"\xff\xc3\xbc\xfe"


def test_render_leaves_non_placeholders_alone() -> None:
    script = b"echo ${HOME} {single} { {a} } {{"
    assert render(script, {}, BUILT_INS) == script


@given(
    st.dictionaries(
        st.text(NAME_CHARS, min_size=1, max_size=10),
        st.text(max_size=20),
        max_size=20,
    )
)
def test_render_after_check_covers_every_name(values: dict[str, str]) -> None:
    script = " ".join(f"[{{{{{n}}}}}]" for n in values).encode()
    defined = names(script)
    substituted = check_parameters(defined, values, enabled=True)
    expected = " ".join(f"[{v}]" for v in values.values()).encode()
    assert render(script, substituted, BUILT_INS) == expected
