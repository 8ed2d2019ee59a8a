"""Where the agent's bearer token comes from, kept out of what its scripts can see.

A script running as root can read ``/proc/PPID/environ`` of the agent, and any
local user its ``/proc/PPID/cmdline``. So the token is best read from a file
(``--token-file``), which the agent reads again before each connection so that a
rotated file is picked up. A token given as ``KAIROS_AGENT_TOKEN`` or ``--token``
still works: the agent hands it to a re-executed copy of itself through a pipe
and drops it from the new process's environment and arguments (``reexec_without``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import NoReturn, Protocol

log = logging.getLogger(__name__)

TOKEN_ENV = "KAIROS_AGENT_TOKEN"
TOKEN_FLAG = "--token"
HANDOVER_ENV = "KAIROS_AGENT_TOKEN_FD"
"""Names the inherited descriptor a re-executed agent reads its token from; no secret."""
MAX_TOKEN_BYTES = 4096
"""PIPE_BUF: a token this long is written to an empty pipe at once, without a reader."""


class TokenError(Exception):
    """A token that cannot be used; the message says why and never holds the token."""


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
        self._token = read_token_file(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "token file %s is open to group or others (mode %03o); chmod 600 it", path, mode
            )

    def current(self) -> str:
        """The file's token now; the one read before while the file cannot be used."""
        try:
            self._token = read_token_file(self._path)
        except TokenError as error:
            # Mid-rotation, say: a stale token fails with UNAUTHENTICATED, which says more
            # than not connecting at all.
            log.warning("%s; connecting with the token read before", error)
        return self._token


def read_token_file(path: Path) -> str:
    """The token in ``path``, without surrounding whitespace (the trailing newline)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TokenError(f"cannot read token file {path}: {error.strerror}") from None
    return checked(data, f"token file {path}")


def checked(data: bytes, origin: str) -> str:
    """``data`` as a token for ``authorization: Bearer`` metadata; ``origin`` names it in errors."""
    token = data.strip()
    if not token:
        raise TokenError(f"{origin} is empty")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError(f"{origin} holds more than {MAX_TOKEN_BYTES} bytes")
    if not all(0x21 <= byte <= 0x7E for byte in token):
        raise TokenError(f"{origin}: a token may hold only printable ASCII, without spaces")
    return token.decode("ascii")


def reexec_without(token: str, argv: Sequence[str], environ: Mapping[str, str]) -> NoReturn:
    """Run this process's program again, ``token`` handed over through an inherited pipe.

    The new process image has neither ``KAIROS_AGENT_TOKEN`` in its environment nor
    ``--token`` in its arguments, so ``/proc/PID/environ`` and ``/proc/PID/cmdline``
    (the pid stays the same) no longer hold the token. ``argv`` is the whole command
    line, interpreter included (``sys.orig_argv``).
    """
    read_end, write_end = os.pipe()
    try:
        # At most PIPE_BUF bytes into an empty pipe: written whole, never blocks.
        os.write(write_end, checked(token.encode(), "the agent token").encode())
    finally:
        os.close(write_end)
    os.set_inheritable(read_end, True)
    env = {name: value for name, value in environ.items() if name != TOKEN_ENV}
    env[HANDOVER_ENV] = str(read_end)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *without_token_flag(argv[1:])], env)


def without_token_flag(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--token VALUE`` and ``--token=VALUE``.

    These are the only spellings argparse accepts: every shorter prefix (``--tok``)
    is ambiguous with ``--token-file`` and refused.
    """
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == TOKEN_FLAG:
            skip = True
        elif not arg.startswith(f"{TOKEN_FLAG}="):
            kept.append(arg)
    return kept


def take_handed_over(environ: MutableMapping[str, str]) -> str | None:
    """The token a previous image of this process handed over (``reexec_without``), or None.

    Reads the pipe to its end and closes it before any script runs, and removes
    ``KAIROS_AGENT_TOKEN_FD`` from ``environ``.
    """
    number = environ.pop(HANDOVER_ENV, None)
    if number is None:
        return None
    try:
        with open(int(number), "rb", closefd=True) as pipe:
            data = pipe.read(MAX_TOKEN_BYTES + 1)
    except (ValueError, OSError) as error:
        raise TokenError(
            f"{HANDOVER_ENV}={number}: no handed-over token could be read ({error})"
        ) from None
    return checked(data, "the handed-over agent token")
