"""Command parameters (SPEC §4): finding ``{{name}}`` placeholders and rendering them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid

_PLACEHOLDER = re.compile(rb"\{\{([^{}]*)\}\}")
_CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
BUILT_IN_PREFIX = "ACS::"
BUILT_IN_NAMES = frozenset(
    {"RegionId", "AccountId", "InstanceId", "InstanceName", "InvokeId", "CommandId"}
)


@dataclass(kw_only=True, frozen=True)
class BuiltIns:
    """The values of the built-in ``ACS::`` parameters for one instance."""

    region_id: str
    account_id: str
    instance_id: str
    instance_name: str
    invoke_id: str
    command_id: str

    def value(self, name: str) -> str:
        """The value of built-in ``name`` (without its ``ACS::`` prefix)."""
        return {
            "RegionId": self.region_id,
            "AccountId": self.account_id,
            "InstanceId": self.instance_id,
            "InstanceName": self.instance_name,
            "InvokeId": self.invoke_id,
            "CommandId": self.command_id,
        }[name]


def parameter_names(script: bytes, max_parameters: int) -> list[str]:
    """The custom parameter names of a script, in order of first use.

    Raises ``KairosError`` for a malformed name, an unknown built-in, or more
    than ``max_parameters`` distinct custom names.
    """
    names: dict[str, None] = {}
    for raw in _PLACEHOLDER.findall(script):
        name = _placeholder_name(raw)
        if name.startswith(BUILT_IN_PREFIX):
            if name[len(BUILT_IN_PREFIX) :] not in BUILT_IN_NAMES:
                raise invalid(
                    RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
                    "command_content",
                    f"unknown built-in parameter '{{{{{name}}}}}'; the built-ins are "
                    + ", ".join(f"{BUILT_IN_PREFIX}{n}" for n in sorted(BUILT_IN_NAMES)),
                )
            continue
        if not _CUSTOM_NAME.fullmatch(name):
            raise invalid(
                RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
                "command_content",
                f"parameter name '{name}' is invalid: names are 1-64 characters of "
                "A-Z, a-z, 0-9, '_' and '-'",
            )
        names[name] = None
    if len(names) > max_parameters:
        raise invalid(
            RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
            "command_content",
            f"the script defines {len(names)} parameters; the limit is {max_parameters}",
        )
    return list(names)


def check_parameters(
    defined: list[str], given: Mapping[str, str], *, enabled: bool
) -> dict[str, str]:
    """Return the custom parameter values to substitute: every defined name, '' when not given."""
    if not enabled:
        if given:
            raise invalid(
                RefusalCode.INVALID_PARAM_PARAMETERS,
                "parameters",
                "parameters were given but the command has enable_parameter false",
            )
        return {}
    unknown = sorted(set(given) - set(defined))
    if unknown:
        raise invalid(
            RefusalCode.INVALID_PARAM_PARAMETERS,
            "parameters",
            f"parameters not defined by the command: {', '.join(unknown)}",
        )
    return {name: given.get(name, "") for name in defined}


def render(script: bytes, values: Mapping[str, str], built_ins: BuiltIns) -> bytes:
    """Substitute custom and built-in parameters into ``script``."""

    def substitute(match: re.Match[bytes]) -> bytes:
        name = _placeholder_name(match.group(1))
        if name.startswith(BUILT_IN_PREFIX):
            return built_ins.value(name[len(BUILT_IN_PREFIX) :]).encode()
        return values[name].encode()

    return _PLACEHOLDER.sub(substitute, script)


def _placeholder_name(raw: bytes) -> str:
    # Spaces inside the braces are ignored (SPEC §4): "{{ name }}" is "name".
    return raw.decode(errors="replace").strip()
