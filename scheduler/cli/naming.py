"""Proto enum values in Cloud Assistant's words, both ways.

The API's enums are spelled `INVOCATION_STATUS_PARTIAL_FAILED`; operators know
`PartialFailed`, `RunShellScript`, `EveryReboot`. Every word is derived from the
proto value name, so a value added to the API is printed correctly without a
table to update here (the tests check the words against `scheduler.domain.enums`).
"""

import re

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from scheduler.cli.errors import UsageError

# Enums whose words are lower case in Cloud Assistant and in our domain (`linux`).
_LOWER_CASE_ENUMS = frozenset({"OsType"})


def enum_word(enum: EnumTypeWrapper, value: int) -> str:
    """Cloud Assistant's word for `value` of `enum` (`""` when unspecified).

    A number this client does not know (a newer server) prints as the number.
    """
    try:
        name = enum.Name(value)
    except ValueError:
        return str(value)
    return _word(enum, name)


def parse_enum(enum: EnumTypeWrapper, text: str, aliases: dict[str, str] | None = None) -> str:
    """The proto value name of `enum` that `text` means, for request constructors.

    `text` is a word in any case with or without dashes (`PartialFailed`,
    `partial-failed`, `DRY_RUN`) or one of `aliases` (word → proto value name).
    Raises `UsageError` naming the accepted words.
    """
    key = _normalise(text)
    for alias, name in (aliases or {}).items():
        if _normalise(alias) == key:
            return name
    for name in _names(enum):
        if _normalise(_word(enum, name)) == key:
            return name
    raise UsageError(
        f"unknown {_title(enum)} {text!r}; expected one of {', '.join(enum_words(enum))}"
    )


def enum_words(enum: EnumTypeWrapper) -> list[str]:
    """Every word of `enum` except the unspecified value, in declaration order."""
    return [_word(enum, name) for name in _names(enum)]


def _names(enum: EnumTypeWrapper) -> list[str]:
    return [value.name for value in enum.DESCRIPTOR.values if value.number != 0]


def _word(enum: EnumTypeWrapper, name: str) -> str:
    prefix = _prefix(enum)
    if name.endswith("_UNSPECIFIED"):
        return ""
    bare = name.removeprefix(prefix)
    if enum.DESCRIPTOR.name in _LOWER_CASE_ENUMS:
        return bare.lower()
    return "".join(part.capitalize() for part in bare.split("_"))


def _prefix(enum: EnumTypeWrapper) -> str:
    # Buf style: every value starts with the enum's name in UPPER_SNAKE case.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.DESCRIPTOR.name).upper() + "_"


def _title(enum: EnumTypeWrapper) -> str:
    return _prefix(enum).rstrip("_").replace("_", " ").lower()


def _normalise(text: str) -> str:
    return re.sub(r"[-_\s]", "", text).lower()
