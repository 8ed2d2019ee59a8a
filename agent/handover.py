"""Secrets given in the agent's environment or arguments, taken out of ``/proc``.

A script running as root can read ``/proc/PPID/environ`` of the agent, and any
local user its ``/proc/PPID/cmdline``. A secret given as an environment variable or
a flag (the agent token, the activation code) still works: the agent hands each one
to a re-executed copy of itself through a pipe of its own and drops it from the new
process's environment and arguments (``reexec_without``). Files (``--token-file``,
``--activation-code-file``) need none of this.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import NoReturn

from agent.tokens import TokenError, checked
from scheduler.domain.credentials import MAX_TOKEN_BYTES


@dataclasses.dataclass(frozen=True, kw_only=True)
class Secret:
    """A secret the agent may be given in its environment or on its command line."""

    what: str
    """How messages name it, e.g. "the agent token"."""
    env: str
    flag: str
    file_flag: str
    """The flag that reads it from a file, the way to prefer."""
    handover_env: str
    """Names the inherited descriptor a re-executed agent reads it from; no secret."""


TOKEN = Secret(
    what="the agent token",
    env="KAIROS_AGENT_TOKEN",
    flag="--token",
    file_flag="--token-file",
    handover_env="KAIROS_AGENT_TOKEN_FD",
)
ACTIVATION_CODE = Secret(
    what="the activation code",
    env="KAIROS_ACTIVATION_CODE",
    flag="--activation-code",
    file_flag="--activation-code-file",
    handover_env="KAIROS_ACTIVATION_CODE_FD",
)
SECRETS = (TOKEN, ACTIVATION_CODE)


def given_on_command_line(secret: Secret, argv: Sequence[str]) -> bool:
    """Whether ``argv`` holds ``secret``'s flag (else it came from the environment)."""
    return without_flag(argv, secret.flag) != list(argv)


def reexec_without(
    given: Mapping[Secret, str], argv: Sequence[str], environ: Mapping[str, str]
) -> NoReturn:
    """Run this process's program again, each secret of ``given`` handed over through
    an inherited pipe of its own.

    The new process image has none of their variables in its environment nor their
    flags in its arguments, so ``/proc/PID/environ`` and ``/proc/PID/cmdline`` (the
    pid stays the same) no longer hold them. ``argv`` is the whole command line,
    interpreter included (``sys.orig_argv``).
    """
    env = dict(environ)
    arguments = list(argv[1:])
    for secret, value in given.items():
        data = checked(value.encode(), secret.what).encode()
        read_end, write_end = os.pipe()
        try:
            # At most PIPE_BUF bytes into an empty pipe: written whole, never blocks.
            os.write(write_end, data)
        finally:
            os.close(write_end)
        os.set_inheritable(read_end, True)
        env.pop(secret.env, None)
        env[secret.handover_env] = str(read_end)
        arguments = without_flag(arguments, secret.flag)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *arguments], env)


def without_flag(argv: Sequence[str], flag: str) -> list[str]:
    """``argv`` without ``FLAG VALUE`` and ``FLAG=VALUE``.

    These are the only spellings argparse accepts for the secrets' flags: every
    shorter prefix (``--tok``, ``--activation-co``) is ambiguous with the flag's
    ``-file`` twin and refused.
    """
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(f"{flag}="):
            kept.append(arg)
    return kept


def take_handed_over(secret: Secret, environ: MutableMapping[str, str]) -> str | None:
    """``secret`` as a previous image of this process handed it over, or None.

    Reads the pipe to its end and closes it before any script runs, and removes
    its descriptor's variable from ``environ``.
    """
    number = environ.pop(secret.handover_env, None)
    if number is None:
        return None
    try:
        with open(int(number), "rb", closefd=True) as pipe:
            data = pipe.read(MAX_TOKEN_BYTES + 1)
    except (ValueError, OSError) as error:
        raise TokenError(
            f"{secret.handover_env}={number}: {secret.what} handed over could not be read ({error})"
        ) from None
    return checked(data, f"{secret.what} handed over")
