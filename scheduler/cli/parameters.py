"""The warning for declared parameters that a `run` or `invoke` does not give.

The server substitutes an empty value for each of them (its rules stand: this only
tells the operator before the script runs with a blank where a value was meant).
"""

import base64
import binascii
import sys
from collections.abc import Iterable, Mapping

from scheduler.cli.script import Script
from scheduler.domain.errors import KairosError
from scheduler.domain.limits import Limits
from scheduler.domain.parameters import parameter_names


def warn_missing(declared: Iterable[str], given: Mapping[str, str]) -> None:
    """On stderr, the declared parameters not in ``given``, if any."""
    missing = [name for name in declared if name not in given]
    if missing:
        print(
            f"warning: parameter{'s' if len(missing) > 1 else ''} not given: "
            f"{', '.join(missing)} (substituted as empty; give values with -p NAME=VALUE)",
            file=sys.stderr,
        )


def declared_in(script: Script) -> list[str]:
    """The custom parameters a script declares; none when the server would refuse it anyway
    (a malformed placeholder, bad Base64): its refusal says more than a warning."""
    try:
        content = (
            base64.b64decode(script.content, validate=True)
            if script.encoding == "CONTENT_ENCODING_BASE64"
            else script.content.encode()
        )
        return parameter_names(content, Limits().max_parameters)
    except (KairosError, binascii.Error, ValueError):
        return []
