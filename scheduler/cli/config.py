"""`kairos config get-contexts|use-context|set-context`: the config file's contexts.

Tokens are never printed nor stored here: a context names the file holding its token.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from scheduler.cli import contexts
from scheduler.cli.errors import UsageError
from scheduler.cli.flags import handler
from scheduler.cli.output import render_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config` and its actions to the `kairos` parser."""
    config = subparsers.add_parser(
        "config",
        help="named contexts (server, token file, CA) in the config file, like kubectl's",
        description="Contexts live in $XDG_CONFIG_HOME/kairos/config.toml (~/.config without "
        "it). A command uses --context, else KAIROS_CONTEXT, else the current context; its "
        "flags and KAIROS_* variables win over the context's settings.",
    )
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("get-contexts", help="list the contexts; * marks the current")
    listing.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    listing.set_defaults(func=handler("scheduler.cli.config:get_contexts"))

    use = actions.add_parser("use-context", help="make a context the current one")
    use.add_argument("name", metavar="NAME")
    use.set_defaults(func=handler("scheduler.cli.config:use_context"))

    define = actions.add_parser(
        "set-context",
        help="create a context, or change the settings given of an existing one",
    )
    define.add_argument("name", metavar="NAME")
    define.add_argument("--server", metavar="HOST:PORT", help="the server's address")
    define.add_argument(
        "--token-file", metavar="FILE", help="a file holding the bearer token (stored absolute)"
    )
    define.add_argument(
        "--ca-file", metavar="FILE", help="PEM CA certificates: connect with TLS (stored absolute)"
    )
    define.add_argument(
        "--tls-server-name", metavar="NAME", help="the name the server's certificate carries"
    )
    define.add_argument("--current", action="store_true", help="also make it the current one")
    define.set_defaults(func=handler("scheduler.cli.config:set_context"))


def get_contexts(args: argparse.Namespace) -> int:
    """The contexts as a table (or JSON), the current one marked."""
    config = contexts.load(contexts.config_path())
    if args.json:
        document = {
            "current_context": config.current,
            "contexts": {
                name: dataclasses.asdict(context) for name, context in config.contexts.items()
            },
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(
        render_table(
            ["CURRENT", "NAME", "SERVER", "TOKEN FILE", "CA FILE", "TLS SERVER NAME"],
            [
                [
                    "*" if name == config.current else "",
                    name,
                    context.server,
                    context.token_file,
                    context.ca_file,
                    context.tls_server_name,
                ]
                for name, context in sorted(config.contexts.items())
            ],
        )
    )
    return 0


def use_context(args: argparse.Namespace) -> int:
    """Make ``args.name`` the current context."""
    path = contexts.config_path()
    config = contexts.load(path)
    if args.name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none yet: `kairos config set-context`"
        raise UsageError(f"no context {args.name!r} in {path} (contexts: {known})")
    contexts.save(path, dataclasses.replace(config, current=args.name))
    print(f"switched to context {args.name!r}")
    return 0


def set_context(args: argparse.Namespace) -> int:
    """Create or update the context ``args.name`` with the settings given."""
    if not args.name.strip():
        raise UsageError("a context needs a name")
    path = contexts.config_path()
    config = contexts.load(path)
    given = {name: getattr(args, name) for name in contexts.KEYS if getattr(args, name) is not None}
    # Stored absolute, so that the context works from any directory, not only this one.
    changes = {
        name: contexts.anchored(value, Path.cwd()) if name in contexts.FILE_FIELDS else value
        for name, value in given.items()
    }
    existed = args.name in config.contexts
    context = dataclasses.replace(config.contexts.get(args.name, contexts.Context()), **changes)
    current = args.name if args.current or not config.current else config.current
    contexts.save(
        path,
        contexts.Config(current=current, contexts={**config.contexts, args.name: context}),
    )
    print(f"context {args.name!r} {'modified' if existed else 'created'} in {path}")
    return 0
