"""`kairos pause|resume|modify|trigger`: schedule control of periodic and boot invocations."""

import argparse
from typing import Any

from kairos.v1 import invocation_pb2
from scheduler.cli.client import Client
from scheduler.cli.flags import collect_parameters
from scheduler.cli.output import format_time, print_done, print_json
from scheduler.cli.script import load_script
from scheduler.cli.tags import to_tags


def pause(args: argparse.Namespace) -> int:
    """PauseInvocation: its fires are skipped (and counted) until it is resumed."""
    request = invocation_pb2.PauseInvocationRequest(invoke_id=args.invoke_id)
    with Client.from_args(args) as client:
        response = client.pause_invocation(request)
    return print_done(response, args.json, f"paused {args.invoke_id}")


def resume(args: argparse.Namespace) -> int:
    """ResumeInvocation: it fires again from its next future fire."""
    request = invocation_pb2.ResumeInvocationRequest(invoke_id=args.invoke_id)
    with Client.from_args(args) as client:
        response = client.resume_invocation(request)
    return print_done(response, args.json, f"resumed {args.invoke_id}")


def modify(args: argparse.Namespace) -> int:
    """ModifyInvocation: only the flags given change (fields not set are "not given")."""
    given: dict[str, Any] = {
        "frequency": args.frequency,
        "timeout": args.timeout,
        "parameters": None
        if args.parameters is None
        else invocation_pb2.ParameterValues(values=collect_parameters(args.parameters)),
        "resource_tags": None
        if args.selector is None
        else invocation_pb2.ResourceTags(tags=to_tags(args.selector)),
    }
    if args.content is not None or args.file is not None:
        script = load_script(text=args.content, path=args.file, is_base64=args.base64)
        given |= {"command_content": script.content, "content_encoding": script.encoding}
    request = invocation_pb2.ModifyInvocationRequest(
        invoke_id=args.invoke_id,
        add_instance_ids=args.add_instances or [],
        remove_instance_ids=args.remove_instances or [],
        **{name: value for name, value in given.items() if value is not None},
    )
    with Client.from_args(args) as client:
        response = client.modify_invocation(request)
    return print_done(response, args.json, f"modified {args.invoke_id}")


def trigger(args: argparse.Namespace) -> int:
    """TriggerInvocation: one fire now, outside the schedule, which stays as it is."""
    request = invocation_pb2.TriggerInvocationRequest(
        invoke_id=args.invoke_id, instance_ids=args.instance_ids or []
    )
    with Client.from_args(args) as client:
        response = client.trigger_invocation(request)
    if args.json:
        print_json(response)
        return 0
    fired = ", ".join(response.instance_ids) or "no instance"
    print(f"triggered {args.invoke_id} at {format_time(response.scheduled_time)} on {fired}")
    if response.busy_instance_ids:
        busy = ", ".join(response.busy_instance_ids)
        print(f"skipped (previous run still going): {busy}")
    return 0
