"""Where the agent's bearer token comes from, kept out of what its scripts can see.

A script running as root can read ``/proc/PPID/environ`` of the agent, and any
local user its ``/proc/PPID/cmdline``. So the token is best read from a file
(``--token-file``), which the agent reads again before each connection so that a
rotated file is picked up; the activation code's file is read the same way, once.
A secret given as an environment variable or a flag is taken out of ``/proc`` by
``agent.handover``.
"""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path
from typing import Protocol

from scheduler.domain.credentials import token_problem

log = logging.getLogger(__name__)


class TokenError(Exception):
    """A token or code that cannot be used; the message says why and never holds it."""


class TokenSource(Protocol):
    """Gives the token to send with the next connection."""

    def current(self) -> str | None:
        """The token for the next ``Connect`` (None: connect without one)."""


@dataclasses.dataclass(frozen=True)
class FixedToken:
    """A token that never changes during the agent's life (or none)."""

    token: str | None

    def current(self) -> str | None:
        """The token given at start."""
        return self.token


class TokenFile:
    """A token file, read at start (``TokenError`` if unusable) and before each connection."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._token = read_secret_file(path)
        warn_if_open(path, "token file")

    def current(self) -> str:
        """The file's token now; the one read before while the file cannot be used."""
        try:
            self._token = read_secret_file(self._path)
        except TokenError as error:
            # Mid-rotation, say: a stale token fails with UNAUTHENTICATED, which says more
            # than not connecting at all.
            log.warning("%s; connecting with the token read before", error)
        return self._token


def read_secret_file(path: Path, what: str = "token file") -> str:
    """The secret in ``path``, without surrounding whitespace (the trailing newline);
    ``what`` names the file in errors."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TokenError(f"cannot read {what} {path}: {error.strerror}") from None
    return checked(data, f"{what} {path}")


def warn_if_open(path: Path, what: str) -> None:
    """Warn when group or others may open the secret file ``path``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s %s is open to group or others (mode %03o); chmod 600 it", what, path, mode)


def checked(data: bytes, origin: str) -> str:
    """``data`` as a token for ``authorization: Bearer`` metadata; ``origin`` names it in errors."""
    token = data.strip()
    problem = token_problem(token)
    if problem is not None:
        raise TokenError(f"{origin} {problem}")
    return token.decode("ascii")
