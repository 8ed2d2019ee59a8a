"""`kairos send-file` and `kairos file-results`: pushing a file to instances (SendFile)
and what each instance made of it."""

import argparse
import os
import sys
from collections.abc import Sequence

from kairos.v1 import common_pb2, file_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.connection import repeated_flags
from scheduler.cli.errors import UsageError
from scheduler.cli.naming import enum_word
from scheduler.cli.output import (
    format_time,
    print_json,
    print_page_hint,
    render_fields,
    render_table,
)
from scheduler.cli.script import load_script
from scheduler.cli.tags import to_tags
from scheduler.cli.watch import follow


def send_file(args: argparse.Namespace) -> int:
    """SendFile of LOCAL_PATH (`-`: stdin, then --name is required); `--watch` follows it."""
    name = args.name or ("" if args.local_path == "-" else os.path.basename(args.local_path))
    if not name:
        raise UsageError("--name is required when the file is read from stdin")
    # Text goes as it is, anything else Base64-encoded: the file arrives byte for byte.
    content = load_script(text=None, path=args.local_path, is_base64=False)
    request = file_pb2.SendFileRequest(
        instance_ids=args.instance_ids or [],
        resource_tags=to_tags(args.selector or []),
        name=name,
        description=args.description or "",
        target_dir=args.target_dir,
        content=content.content,
        content_type=content.encoding,
        file_mode=args.mode or "",
        file_owner=args.owner or "",
        file_group=args.group or "",
        overwrite=args.overwrite,
        timeout=args.timeout or 0,
        client_token=args.client_token or "",
    )
    with Client.from_args(args) as client:
        response = client.send_file(request)
        created = [("invoke_id", response.invoke_id)]
        if args.watch:
            if not args.json:
                print(render_fields(created), flush=True)
            return follow(client, response.invoke_id, json_mode=args.json, extra=dict(created))
    if args.json:
        print_json(response)
    else:
        print(render_fields(created))
        print(
            f"(results: kairos file-results {response.invoke_id}{repeated_flags(args)})",
            file=sys.stderr,
        )
    return 0


def file_results(args: argparse.Namespace) -> int:
    """DescribeSendFileResults: one file task's file and instances, or the list of them."""
    request = file_pb2.DescribeSendFileResultsRequest(
        invoke_id=args.invoke_id or "",
        instance_id=args.instance_id or "",
        name=args.name or "",
        invocation_status=args.status or "INVOCATION_STATUS_UNSPECIFIED",
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_send_file_results, request, every=args.all)
    if args.json:
        print_json(response)
        return 0
    if args.invoke_id:
        for task in response.invocations:
            print(render_file_task(task))
            print()
            print(render_file_instances(task.instances))
        return 0
    print(render_file_tasks(response.invocations))
    print_page_hint(len(response.invocations), response.total_count, response.next_token)
    return 0


def render_file_tasks(tasks: Sequence[file_pb2.SendFileInvocation]) -> str:
    """The file task list: one row each, DONE counting instances that ended."""
    return render_table(
        ["INVOKE_ID", "NAME", "TARGET DIR", "STATUS", "DONE", "CREATED"],
        [
            [
                task.invoke_id,
                task.name,
                task.target_dir,
                _status(task.invocation_status),
                f"{sum(1 for i in task.instances if _ended(i.invocation_status))}"
                f"/{len(task.instances)}",
                format_time(task.creation_time),
            ]
            for task in tasks
        ],
    )


def render_file_task(task: file_pb2.SendFileInvocation) -> str:
    """One file task's file and overall status, field by field."""
    return render_fields(
        [
            ("invoke_id", task.invoke_id),
            ("file", os.path.join(task.target_dir, task.name)),
            ("mode", task.file_mode),
            ("owner", f"{task.file_owner}:{task.file_group}"),
            ("overwrite", "yes" if task.overwrite else "no"),
            ("status", _status(task.invocation_status)),
            ("created", format_time(task.creation_time)),
        ]
    )


def render_file_instances(instances: Sequence[file_pb2.SendFileInstance]) -> str:
    """Each instance's status, error and times; the error's text in full."""
    return render_table(
        ["INSTANCE", "STATUS", "ERROR", "START", "FINISH", "INFO"],
        [
            [
                instance.instance_id,
                _status(instance.invocation_status),
                instance.error_code,
                format_time(instance.start_time),
                format_time(instance.finish_time),
                instance.error_info,
            ]
            for instance in instances
        ],
    )


def _status(value: int) -> str:
    return enum_word(common_pb2.InvocationStatus, value)


def _ended(value: int) -> bool:
    return value not in (
        common_pb2.INVOCATION_STATUS_PENDING,
        common_pb2.INVOCATION_STATUS_RUNNING,
    )
