"""The operator's subcommands: their arguments, and which function runs each.

Only argparse here; the functions live in `commands`, `invocations`, `watch`,
`fleet` and `dev` and are imported when their subcommand runs.
"""

import argparse
import os
from typing import TypeAlias

from scheduler.cli.flags import (
    DEFAULT_SERVER,
    add_client_token_flag,
    add_command_type_flag,
    add_instances_flag,
    add_invocation_flags,
    add_paging_flags,
    add_placement_flags,
    add_script_flags,
    add_selector_flag,
    add_tag_flag,
    connection_flags,
    enum_arg,
    handler,
    host_port,
    instance_ids,
    int_in,
    local_path,
    parameter,
    resource_type,
)

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    """Add `command`, `run`, `invoke`, `invocations`, `results`, `stop`, `watch`,
    `pause`, `resume`, `modify`, `trigger`, `instances`, `quota`, `activation`,
    `instance`, `tag`, `untag`, `tags`, `send-file`, `file-results` and `dev` to the
    `kairos` parser."""
    api = [connection_flags()]
    _register_command(subparsers, api)
    _register_run_and_invoke(subparsers, api)
    _register_control(subparsers, api)
    _register_inspection(subparsers, api)
    _register_activations(subparsers, api)
    _register_tags(subparsers, api)
    _register_files(subparsers, api)
    _register_dev(subparsers)


def _register_command(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser("command", help="create, list, modify and delete commands")
    actions = command.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=api, help="save a command")
    create.add_argument("--name", required=True, help="command name")
    content = create.add_mutually_exclusive_group(required=True)
    content.add_argument("--content", metavar="TEXT", help="the script")
    add_script_flags(create, sources=content)
    add_placement_flags(create)
    add_client_token_flag(create)
    add_tag_flag(create, what="the command")
    create.set_defaults(func=handler("scheduler.cli.commands:create"))

    _add_command_listing(actions.add_parser("list", parents=api, help="list saved commands"))

    show = actions.add_parser(
        "show",
        parents=api,
        help="show one command: its fields, typed parameters and script",
        description="Show a command of the account, or a common command (Kairos-…): "
        "its fields, its parameters with their types and defaults, and its script.",
    )
    show.add_argument("command_id", metavar="COMMAND_ID")
    show.set_defaults(func=handler("scheduler.cli.commands:show"))

    modify = actions.add_parser(
        "modify", parents=api, help="change name, description, timeout or working dir"
    )
    modify.add_argument("command_id", metavar="COMMAND_ID")
    modify.add_argument("--name", help="new name")
    modify.add_argument("--description", help="new description")
    add_placement_flags(modify)
    modify.set_defaults(func=handler("scheduler.cli.commands:modify"))

    delete = actions.add_parser("delete", parents=api, help="delete a saved command")
    delete.add_argument("command_id", metavar="COMMAND_ID")
    delete.set_defaults(func=handler("scheduler.cli.commands:delete"))


def _add_command_listing(listing: argparse.ArgumentParser) -> None:
    """`kairos command list`, also `kairos commands` as `kairos invocations` lists those."""
    listing.add_argument("--id", dest="command_id", help="only this command (shows its script)")
    listing.add_argument("--name", help="only commands of this name")
    add_command_type_flag(listing, default=None, help="only commands of this type")
    add_selector_flag(listing, help="only commands with all these tags")
    listing.add_argument(
        "--provider",
        help="whose commands: kairos lists the common commands shipped with Kairos "
        "(default: the account's own)",
    )
    add_paging_flags(listing)
    listing.set_defaults(func=handler("scheduler.cli.commands:describe"))


def _register_run_and_invoke(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        parents=api,
        help="run a script on instances (RunCommand)",
        description="Run a script on instances: kairos run -i i-1,i-2 -- 'uname -a'",
    )
    run.add_argument(
        "script", nargs="*", metavar="-- SCRIPT", help="the script, after `--` (or --file)"
    )
    add_script_flags(run)
    run.add_argument("--name", help="command name (required with --keep-command)")
    run.add_argument(
        "--keep-command", action="store_true", help="also save the script as a command"
    )
    add_invocation_flags(run)
    run.set_defaults(func=handler("scheduler.cli.invocations:run"))

    invoke = subparsers.add_parser(
        "invoke", parents=api, help="run a saved command on instances (InvokeCommand)"
    )
    invoke.add_argument("command_id", metavar="COMMAND_ID")
    add_invocation_flags(invoke)
    invoke.set_defaults(func=handler("scheduler.cli.invocations:invoke"))

    stop = subparsers.add_parser("stop", parents=api, help="stop an invocation")
    stop.add_argument("invoke_id", metavar="INVOKE_ID")
    add_instances_flag(stop, required=False)
    stop.set_defaults(func=handler("scheduler.cli.invocations:stop"))

    watch = subparsers.add_parser(
        "watch",
        parents=api,
        help="follow an invocation's output and status until it ends",
        description="Follow an invocation: its runs' status changes and the latest runs' "
        "output live, line by line. Output beyond the server's live rate "
        "(--live-output-rate) or beyond what results keep (head and tail, 24 KB) shows as "
        "'[… N bytes skipped …]'; before an instance's final status the watch shows the "
        "stored head and tail it had not shown live. Exits 0 when the invocation ends Success.",
    )
    watch.add_argument("invoke_id", metavar="INVOKE_ID")
    watch.set_defaults(func=handler("scheduler.cli.watch:watch"))


def _register_control(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    """Schedule control of periodic and boot invocations (`scheduler.cli.control`)."""
    for action, what in (
        ("pause", "pause a periodic or boot invocation: its fires are skipped and counted"),
        ("resume", "resume a paused invocation at its next future fire"),
    ):
        parser = subparsers.add_parser(action, parents=api, help=what)
        parser.add_argument("invoke_id", metavar="INVOKE_ID")
        parser.set_defaults(func=handler(f"scheduler.cli.control:{action}"))

    trigger = subparsers.add_parser(
        "trigger",
        parents=api,
        help="run a periodic or boot invocation once now, its schedule unchanged",
    )
    trigger.add_argument("invoke_id", metavar="INVOKE_ID")
    add_instances_flag(trigger, required=False)
    trigger.set_defaults(func=handler("scheduler.cli.control:trigger"))

    modify = subparsers.add_parser(
        "modify",
        parents=api,
        help="change a periodic or boot invocation (only the flags given change)",
        description="Change a periodic or boot invocation; its next fires are planned again "
        "at once and its history stays. -p replaces every parameter value.",
    )
    modify.add_argument("invoke_id", metavar="INVOKE_ID")
    modify.add_argument("--frequency", metavar="EXPR", help="the new schedule")
    modify.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        metavar="NAME=VALUE",
        type=parameter,
        action="append",
        help="parameter value, repeatable (replaces all values)",
    )
    modify.add_argument(
        "--timeout", type=int_in(1, None), metavar="SECONDS", help="kill the script after this long"
    )
    content = modify.add_mutually_exclusive_group()
    content.add_argument("--content", metavar="TEXT", help="the new script")
    content.add_argument(
        "--file", metavar="PATH", type=local_path, help="read the new script from a file"
    )
    modify.add_argument(
        "--base64", action="store_true", help="the given content is already Base64-encoded"
    )
    for flag, dest, what in (
        ("--add-instance", "add_instances", "arm these instances too"),
        ("--remove-instance", "remove_instances", "disarm these instances (history kept)"),
    ):
        modify.add_argument(
            flag,
            dest=dest,
            metavar="ID[,ID...]",
            type=instance_ids,
            action="extend",
            help=f"{what}, comma separated or repeated",
        )
    add_selector_flag(
        modify,
        help="the new selector of an invocation by selector: the instances with all these "
        "tags (membership follows at once)",
    )
    modify.set_defaults(func=handler("scheduler.cli.control:modify"))


def _register_inspection(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    _add_command_listing(
        subparsers.add_parser(
            "commands", parents=api, help="list commands (as `command list`; --provider kairos)"
        )
    )
    invocations = subparsers.add_parser("invocations", parents=api, help="list invocations")
    invocations.add_argument("--invoke-id", help="only this invocation (shows its instances)")
    invocations.add_argument("--command-id", help="only invocations of this command")
    invocations.add_argument("--instance-id", help="only invocations on this instance")
    invocations.add_argument(
        "--status",
        type=enum_arg("InvocationStatus"),
        help="only invocations in this status (Success, PartialFailed, …)",
    )
    invocations.add_argument(
        "--instances", action="store_true", help="show every invocation's instances"
    )
    add_selector_flag(invocations, help="only invocations with all these tags")
    add_paging_flags(invocations)
    invocations.set_defaults(func=handler("scheduler.cli.invocations:describe"))

    results = subparsers.add_parser("results", parents=api, help="per-instance results and output")
    results.add_argument("invoke_id", metavar="INVOKE_ID")
    results.add_argument("--instance-id", help="only this instance")
    results.add_argument(
        "--history", action="store_true", help="every run of periodic and boot invocations"
    )
    add_paging_flags(results)
    results.set_defaults(func=handler("scheduler.cli.invocations:results"))

    instances = subparsers.add_parser("instances", parents=api, help="agent status of instances")
    add_instances_flag(instances, required=False)
    add_selector_flag(instances, help="only instances with all these tags")
    add_paging_flags(instances)
    instances.set_defaults(func=handler("scheduler.cli.fleet:instances"))

    quota = subparsers.add_parser("quota", parents=api, help="quotas and today's usage")
    quota.set_defaults(func=handler("scheduler.cli.fleet:quota"))


def _register_activations(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    activation = subparsers.add_parser(
        "activation", help="create, list, disable and delete activations of managed instances"
    )
    actions = activation.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        parents=api,
        help="a code machines register with (`kairos agent --activation-id --activation-code`)",
        description="Create an activation; its code is printed this once.",
    )
    create.add_argument(
        "--instance-count",
        type=int_in(1, 1000),
        required=True,
        metavar="N",
        help="how many instances may register with it, 1-1000",
    )
    create.add_argument("--instance-name", default="", help="the name registered instances get")
    create.add_argument(
        "--ttl-hours",
        type=int_in(1, 876_000),
        metavar="HOURS",
        help="hours until it expires, 1-876000 (server default 4)",
    )
    create.add_argument(
        "--ip-address-range",
        default="",
        metavar="CIDR",
        help="only callers in this network may register, e.g. 10.0.0.0/8 (default: any)",
    )
    create.add_argument("--description", default="", help="a note for operators")
    create.set_defaults(func=handler("scheduler.cli.activations:create"))

    listing = actions.add_parser("list", parents=api, help="list activations, newest first")
    listing.add_argument("--id", dest="activation_id", help="only this activation")
    listing.add_argument("--instance-name", help="only activations with this instance name")
    add_paging_flags(listing)
    listing.set_defaults(func=handler("scheduler.cli.activations:describe"))

    for action, what in (
        ("disable", "no more registrations (its instances keep working)"),
        ("delete", "delete one that registered nothing, or a disabled one"),
    ):
        parser = actions.add_parser(action, parents=api, help=what)
        parser.add_argument("activation_id", metavar="ACTIVATION_ID")
        parser.set_defaults(func=handler(f"scheduler.cli.activations:{action}"))

    instance = subparsers.add_parser("instance", help="manage one managed instance")
    instance_actions = instance.add_subparsers(dest="action", metavar="ACTION", required=True)
    deregister = instance_actions.add_parser(
        "deregister",
        parents=api,
        help="refuse a managed instance's credential; its open executions end Error",
    )
    deregister.add_argument("instance_id", metavar="INSTANCE_ID")
    deregister.set_defaults(func=handler("scheduler.cli.activations:deregister"))


def _register_tags(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    tag = subparsers.add_parser(
        "tag",
        parents=api,
        help="set tags on resources (like kubectl label)",
        description="kairos tag instance i-1 i-2 env=prod team=web",
    )
    tag.add_argument("resource_type", type=resource_type, metavar="RESOURCE_TYPE")
    tag.add_argument("items", nargs="+", metavar="ID... KEY=VALUE...")
    tag.set_defaults(func=handler("scheduler.cli.tags:tag"))

    untag = subparsers.add_parser(
        "untag",
        parents=api,
        help="remove tags set with `kairos tag` (an agent's own --tag stay)",
        description="kairos untag instance i-1 env- team-   (or --all)",
    )
    untag.add_argument("resource_type", type=resource_type, metavar="RESOURCE_TYPE")
    untag.add_argument("items", nargs="+", metavar="ID... KEY-...")
    untag.add_argument("--all", action="store_true", help="remove every tag set with `tag`")
    untag.set_defaults(func=handler("scheduler.cli.tags:untag"))

    listing = subparsers.add_parser(
        "tags",
        parents=api,
        help="list the tags of resources, by id or by -l selector",
        description="kairos tags instance i-1 | kairos tags instance -l env=prod",
    )
    listing.add_argument(
        "resource_type", type=resource_type, nargs="?", default="instance", metavar="RESOURCE_TYPE"
    )
    listing.add_argument("ids", nargs="*", metavar="ID")
    add_selector_flag(listing, help="the resources with all these tags")
    add_paging_flags(listing)
    listing.set_defaults(func=handler("scheduler.cli.tags:tags"))


def _register_files(subparsers: Subparsers, api: list[argparse.ArgumentParser]) -> None:
    """SendFile and DescribeSendFileResults (`scheduler.cli.files`)."""
    send = subparsers.add_parser(
        "send-file",
        parents=api,
        help="write a local file on instances (SendFile)",
        description="Write LOCAL_PATH (`-`: stdin) as TARGET_DIR/NAME on instances, "
        "atomically: kairos send-file -i i-1,i-2 --target-dir /etc/app --mode 0640 app.conf",
    )
    send.add_argument("local_path", metavar="LOCAL_PATH", help="the file to send (`-`: stdin)")
    targets = send.add_mutually_exclusive_group(required=True)
    add_instances_flag(targets, required=False)
    add_selector_flag(targets, help="the instances with all these tags")
    send.add_argument(
        "--target-dir", required=True, metavar="DIR", help="absolute directory, created if absent"
    )
    send.add_argument("--name", help="the file's name there (default: LOCAL_PATH's)")
    send.add_argument("--mode", metavar="OCTAL", help="permission bits (server default 0644)")
    send.add_argument("--owner", metavar="USER", help="the file's owner (server default root)")
    send.add_argument("--group", metavar="GROUP", help="the file's group (server default root)")
    send.add_argument(
        "--overwrite", action="store_true", help="replace an existing file (else FileExist)"
    )
    send.add_argument(
        "--timeout", type=int_in(1, None), metavar="SECONDS", help="server default 60, at least 10"
    )
    send.add_argument("--description", help="a note shown with the results")
    add_client_token_flag(send)
    send.add_argument(
        "--watch", action="store_true", help="follow it until it ends (exit 0 on Success)"
    )
    send.set_defaults(func=handler("scheduler.cli.files:send_file"))

    results = subparsers.add_parser(
        "file-results",
        parents=api,
        help="what each instance made of a file task (DescribeSendFileResults)",
        description="One file task with its instances, or (without F_ID) the list of them.",
    )
    results.add_argument("invoke_id", nargs="?", metavar="F_ID", help="the file task's id")
    results.add_argument("--instance-id", help="only this instance")
    results.add_argument("--name", help="only files of this name")
    results.add_argument(
        "--status",
        type=enum_arg("InvocationStatus"),
        help="only file tasks in this status (Pending, Running, Success, Failed, Invalid, "
        "Aborted, Timeout)",
    )
    add_paging_flags(results)
    results.set_defaults(func=handler("scheduler.cli.files:file_results"))


def _register_dev(subparsers: Subparsers) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="a local server with N agents, for a first try",
        description="Start `kairos server` on its embedded PostgreSQL and N local agents; "
        "Ctrl-C stops them all.",
    )
    dev.add_argument(
        "--agents", type=int_in(1, 50), default=3, metavar="N", help="agents (default 3)"
    )
    dev.add_argument(
        "--data-dir", default=".kairos/dev", metavar="DIR", help="state (default %(default)s)"
    )
    dev.add_argument(
        "--listen",
        type=host_port,
        default=os.environ.get("KAIROS_LISTEN") or DEFAULT_SERVER,
        metavar="HOST:PORT",
        help="the server's address (env KAIROS_LISTEN; default %(default)s)",
    )
    dev.set_defaults(func=handler("scheduler.cli.dev:dev"))
