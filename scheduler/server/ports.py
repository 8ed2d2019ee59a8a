"""Taking the server's ports: one it cannot have stops the start, naming its flag."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class ListenError(Exception):
    """A port the server cannot listen on; the message names the flag and the address."""


@contextlib.contextmanager
def binding(flag: str, address: str) -> Iterator[None]:
    """Turn a failure to listen on ``address`` (given as ``flag``) into a ``ListenError``.

    For the block that binds the address, and only that block: gRPC reports a failed
    bind as a bare ``RuntimeError``.
    """
    try:
        yield
    except OSError as error:  # an HTTP server's socket: the system says why
        raise ListenError(
            f"{flag} {address}: cannot listen there: {error.strerror or error}"
        ) from error
    except RuntimeError as error:  # gRPC's core has logged the reason on its own line
        raise ListenError(
            f"{flag} {address}: cannot listen there (the port is in use, or the host "
            "is not an address of this machine)"
        ) from error
