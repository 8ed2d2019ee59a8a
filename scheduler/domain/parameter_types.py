"""Typed parameters of the common commands (issue 13, item 4): definitions, checks, quoting.

A saved command's ``{{name}}`` takes any text, as in Cloud Assistant. A common command's
parameters are typed instead: each value is checked against its definition when the
command is invoked (or an invocation of it modified), a default fills in what is not
given, and the value is rendered shell-quoted (``shell_quote``), so that no value — a
quote, a ``$(…)``, a newline — is ever read by the shell as anything but a word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import ParameterType
from scheduler.domain.errors import invalid

MAX_VALUE_LENGTH = 1024
"""Characters of a String parameter's value."""
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_BOOLEANS = {"true": "true", "false": "false"}


@dataclass(kw_only=True, frozen=True)
class ParameterDefinition:
    """One parameter of a common command: its name in ``{{…}}``, type and rules."""

    name: str
    description: str
    type: ParameterType
    default: str | None
    """The value when none is given, as it would be given; None: the parameter is required."""
    allowed_values: tuple[str, ...] = ()
    """A String's only possible values (an enum); empty: any value the pattern allows."""
    pattern: str = ""
    """A regular expression a String's whole value must match; empty: any text."""
    minimum: int | None = None
    """An Integer's smallest value."""
    maximum: int | None = None
    """An Integer's largest value."""

    def check(self, value: str) -> str:
        """The value in its canonical form (``80``, ``true``); refused naming the parameter
        and the rule when it does not fit."""
        if self.type is ParameterType.INTEGER:
            return self._integer(value)
        if self.type is ParameterType.BOOLEAN:
            checked = _BOOLEANS.get(value.lower())
            if checked is None:
                raise self._refusal(f"is {value!r}; it must be true or false")
            return checked
        return self._string(value)

    def _integer(self, value: str) -> str:
        if not _INTEGER.fullmatch(value):
            raise self._refusal(f"is {value[:64]!r}; it must be a whole number in decimal digits")
        number = int(value)
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise self._refusal(f"is {number}; it must be {self.range_text()}")
        return str(number)

    def _string(self, value: str) -> str:
        if len(value) > MAX_VALUE_LENGTH:
            raise self._refusal(f"is {len(value)} characters; the limit is {MAX_VALUE_LENGTH}")
        if self.allowed_values and value not in self.allowed_values:
            raise self._refusal(f"is {value!r}; it must be one of {', '.join(self.allowed_values)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise self._refusal(f"is {value[:64]!r}; it must match {self.pattern}")
        return value

    def range_text(self) -> str:
        """The Integer's range in words: ``from 1 to 100``."""
        low = "" if self.minimum is None else f"from {self.minimum} "
        high = "" if self.maximum is None else f"to {self.maximum}"
        return f"{low}{high}".strip() or "any whole number"

    def _refusal(self, what: str) -> Exception:
        return invalid(
            RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
            f"parameters.{self.name}",
            f"parameter {self.name} ({self.type.value}) {what}",
        )


def check_values(
    definitions: Sequence[ParameterDefinition], given: Mapping[str, str]
) -> dict[str, str]:
    """Every defined parameter's checked value, the default for those not given.

    A name no definition has is refused as for any command (``InvalidParam.Parameters``).
    """
    defined = {d.name for d in definitions}
    unknown = sorted(set(given) - defined)
    if unknown:
        raise invalid(
            RefusalCode.INVALID_PARAM_PARAMETERS,
            "parameters",
            f"parameters not defined by the command: {', '.join(unknown)}; it defines "
            + ", ".join(d.name for d in definitions),
        )
    values: dict[str, str] = {}
    for definition in definitions:
        value = given.get(definition.name, definition.default)
        if value is None:
            raise invalid(
                RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
                f"parameters.{definition.name}",
                f"parameter {definition.name} is required: {definition.description}",
            )
        values[definition.name] = definition.check(value)
    return values


def shell_quote(value: str) -> str:
    """``value`` as one word of a POSIX shell: single-quoted, each ``'`` as ``'\\''``.

    Inside single quotes the shell reads every character literally (a newline, ``$``,
    a backslash), so the only character to escape is the quote itself.
    """
    return "'" + value.replace("'", "'\\''") + "'"
