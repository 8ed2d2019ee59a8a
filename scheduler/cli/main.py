"""`kairos`: one executable for the server, the agent and the operator's commands.

The root parser only gathers the subcommands' `register(subparsers)` functions;
each subcommand imports its heavy dependencies when it runs, so `kairos --help`
stays fast.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import agent.main
import scheduler.cli.config
import scheduler.cli.operator
import scheduler.cli.schedule
import scheduler.server.cli
from scheduler.cli.errors import CliError
from scheduler.cli.flags import connection_flags, local_path

# Order of the subcommands in `kairos --help`: run the system, then operate it.
REGISTRARS = (
    scheduler.server.cli.register,
    agent.main.register,
    scheduler.cli.operator.register,
    scheduler.cli.schedule.register,
    scheduler.cli.config.register,
)


class KairosParser(argparse.ArgumentParser):
    """A parser whose subcommands each report their own unknown arguments.

    argparse leaves a subcommand's unknown arguments to the root parser, which then
    prints its own usage; here the subcommand's parser refuses them, with its usage
    (exit 2). Every parser added below the root is of this class (``add_subparsers``
    makes its parsers of the class of the parser it belongs to).

    It also refuses a value that is not UTF-8, naming its flag (exit 2): the values
    end up in protobuf strings, TOML or stdout, where Python's surrogate escapes of
    the bytes (PEP 383) would fail with UnicodeEncodeError. Local file names
    (``type=Path`` or ``flags.local_path``) are only opened, so any bytes will do.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        # argparse converts every value (and every string default) here, knowing its
        # action: the one place to name the flag of any value. The subcommand's own
        # parser checks the values after a subcommand's name.
        if not isinstance(action, argparse._SubParsersAction) and action.type not in LOCAL_PATHS:
            _check_utf8(action, arg_string)
        return super()._get_value(action, arg_string)


LOCAL_PATHS: tuple[object, ...] = (Path, local_path)
"""The argparse types of local file names, which need not be UTF-8."""


def _check_utf8(action: argparse.Action, text: str) -> None:
    """Refuse ``text`` unless it is UTF-8. The value is not shown: it may be a token."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentError(action, "not valid UTF-8") from None


def build_parser() -> argparse.ArgumentParser:
    """The `kairos` parser with every subcommand."""
    parser = KairosParser(
        prog="kairos",
        description="Kairos: run scripts now or on a schedule across a fleet of machines.",
        epilog="Run `kairos dev` for a local server with three agents, then `kairos run`.",
        # The connection flags go before the subcommand too (`kairos --server X run …`).
        parents=[connection_flags()],
    )
    parser.set_defaults(json=False)
    subparsers = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    for register in REGISTRARS:
        # Registrars add plain ArgumentParsers as far as they know; they are KairosParsers.
        register(cast("argparse._SubParsersAction[argparse.ArgumentParser]", subparsers))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kairos` with `argv` (default `sys.argv[1:]`); returns the exit code.

    Exit codes: 0 success, 1 a failed call or a failed invocation, 2 usage errors,
    130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # --help (0) and usage errors (2): return the code so callers and tests see it.
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except CliError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `kairos results … | head`: the reader left; stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
