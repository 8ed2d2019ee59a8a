"""`kairos activation create|list|disable|delete` and `kairos instance deregister`."""

import argparse
from collections.abc import Sequence

from kairos.v1 import activation_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.output import (
    format_time,
    print_done,
    print_json,
    print_page_hint,
    render_fields,
    render_table,
)


def create(args: argparse.Namespace) -> int:
    """CreateActivation; prints the id and the code, which is never shown again."""
    request = activation_pb2.CreateActivationRequest(
        instance_name=args.instance_name,
        instance_count=args.instance_count,
        time_to_live_in_hours=args.ttl_hours or 0,
        ip_address_range=args.ip_address_range,
        description=args.description,
    )
    with Client.from_args(args) as client:
        response = client.create_activation(request)
    if args.json:
        print_json(response)
    else:
        print(
            render_fields(
                [
                    ("activation_id", response.activation_id),
                    ("activation_code", response.activation_code),
                ]
            )
        )
    return 0


def describe(args: argparse.Namespace) -> int:
    """DescribeActivations as a table."""
    request = activation_pb2.DescribeActivationsRequest(
        activation_id=args.activation_id or "",
        instance_name=args.instance_name or "",
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_activations, request, every=args.all)
    if args.json:
        print_json(response)
    else:
        print(render_activations(response.activations))
        print_page_hint(len(response.activations), response.total_count, response.next_token)
    return 0


def disable(args: argparse.Namespace) -> int:
    """DisableActivation."""
    with Client.from_args(args) as client:
        response = client.disable_activation(
            activation_pb2.DisableActivationRequest(activation_id=args.activation_id)
        )
    return print_done(response, args.json, f"disabled {args.activation_id}")


def delete(args: argparse.Namespace) -> int:
    """DeleteActivation."""
    with Client.from_args(args) as client:
        response = client.delete_activation(
            activation_pb2.DeleteActivationRequest(activation_id=args.activation_id)
        )
    return print_done(response, args.json, f"deleted {args.activation_id}")


def deregister(args: argparse.Namespace) -> int:
    """DeregisterManagedInstance."""
    with Client.from_args(args) as client:
        response = client.deregister_managed_instance(
            activation_pb2.DeregisterManagedInstanceRequest(instance_id=args.instance_id)
        )
    return print_done(response, args.json, f"deregistered {args.instance_id}")


def render_activations(activations: Sequence[activation_pb2.Activation]) -> str:
    """The activations table."""
    return render_table(
        [
            "ACTIVATION ID",
            "INSTANCE NAME",
            "REGISTERED",
            "DEREGISTERED",
            "IP RANGE",
            "DISABLED",
            "CREATED",
            "EXPIRES",
        ],
        [
            [
                activation.activation_id,
                activation.instance_name,
                f"{activation.registered_count}/{activation.instance_count}",
                activation.deregistered_count,
                activation.ip_address_range,
                "yes" if activation.disabled else "no",
                format_time(activation.creation_time),
                format_time(activation.expiry_time),
            ]
            for activation in activations
        ],
    )
