"""Which server an operator command talks to, and how: flags > environment > context >
defaults, each setting on its own.

The connection flags (``flags.connection_flags``) are accepted before and after the
subcommand; none has a default in the parser, so a flag the command line does not
give is absent from the parsed arguments and is looked up here, when a command
connects (only then is the config file read).
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from agent.tls import ClientTls, ClientTlsError
from scheduler.cli import contexts
from scheduler.cli.errors import UsageError
from scheduler.cli.flags import DEFAULT_SERVER

ENVIRONMENT = {
    "server": "KAIROS_SERVER",
    "token": "KAIROS_TOKEN",
    "ca_file": "KAIROS_CA_FILE",
    "context": "KAIROS_CONTEXT",
}
"""The environment variable of each connection setting that has one."""

REPEATED = {
    "context": "--context",
    "server": "--server",
    "ca_file": "--ca-file",
    "tls_server_name": "--tls-server-name",
}
"""The flags a follow-up hint repeats when the command line gave them (never --token)."""


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A resolved connection: the address, the bearer token and TLS."""

    server: str
    token: str | None
    tls: ClientTls


def resolve(args: argparse.Namespace) -> Connection:
    """The connection a parsed command line asks for (see the module's docstring)."""
    context = _context(_given(args, "context"))
    ca_file = _given(args, "ca_file") or context.ca_file
    try:
        tls = ClientTls.from_args(
            argparse.Namespace(
                ca_file=Path(ca_file) if ca_file else None,
                tls_server_name=_given(args, "tls_server_name") or context.tls_server_name or None,
            )
        )
    except ClientTlsError as error:
        raise UsageError(str(error)) from None
    return Connection(
        server=_given(args, "server") or context.server or DEFAULT_SERVER,
        token=_given(args, "token") or _read_token(context.token_file),
        tls=tls,
    )


def repeated_flags(args: argparse.Namespace) -> str:
    """The connection flags the command line gave, as a hint repeats them (`` --server X``)."""
    return "".join(
        f" {flag} {shlex.quote(str(getattr(args, name)))}"
        for name, flag in REPEATED.items()
        if getattr(args, name, None)
    )


def _given(args: argparse.Namespace, name: str) -> str:
    """A setting from its flag, else its environment variable; '' when neither has it."""
    value = getattr(args, name, None)
    if value:
        return str(value)
    variable = ENVIRONMENT.get(name)
    return os.environ.get(variable, "") if variable else ""


def _context(name: str) -> contexts.Context:
    """The named context, else the config file's current one, else an empty one."""
    path = contexts.config_path()
    config = contexts.load(path)
    chosen = name or config.current
    if not chosen:
        return contexts.Context()
    if chosen not in config.contexts:
        raise UsageError(f"context {chosen!r} is not in {path} (see `kairos config get-contexts`)")
    # Files stored relative (by hand, or by an older kairos) are the config file's
    # neighbours, not the current directory's: the context works from anywhere.
    return contexts.with_files_from(config.contexts[chosen], path.parent)


def _read_token(token_file: str) -> str | None:
    if not token_file:
        return None
    path = Path(token_file)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise UsageError(
            f"the context's token-file {path}: cannot read it ({error.strerror})"
        ) from None
