"""`kairos instances` and `kairos quota`: the fleet and the account's limits."""

import argparse
from collections.abc import Sequence

from kairos.v1 import common_pb2, fleet_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.naming import enum_word
from scheduler.cli.output import format_time, print_json, print_page_hint, render_table
from scheduler.cli.tags import tags_text, to_tags


def instances(args: argparse.Namespace) -> int:
    """DescribeAgentStatus as a table."""
    request = fleet_pb2.DescribeAgentStatusRequest(
        instance_ids=args.instance_ids or [],
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
        tags=to_tags(args.selector or []),
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_agent_status, request, every=args.all)
    if args.json:
        print_json(response)
    else:
        print(render_agent_status(response.instances))
        print_page_hint(len(response.instances), response.total_count, response.next_token)
    return 0


def quota(args: argparse.Namespace) -> int:
    """DescribeAccountAttributes: each quota's use and limit."""
    with Client.from_args(args) as client:
        response = client.describe_account_attributes(fleet_pb2.DescribeAccountAttributesRequest())
    if args.json:
        print_json(response)
    else:
        print(
            render_table(
                ["NAME", "USED", "LIMIT"],
                [
                    [attribute.name, attribute.used, attribute.limit]
                    for attribute in response.attributes
                ],
            )
        )
    return 0


def render_agent_status(agents: Sequence[fleet_pb2.AgentStatus]) -> str:
    """The instances table."""
    return render_table(
        ["INSTANCE", "NAME", "ONLINE", "VERSION", "OS", "TIME ZONE", "LAST HEARTBEAT", "TAGS"],
        [
            [
                agent.instance_id,
                agent.instance_name,
                "yes" if agent.online else "no",
                agent.agent_version,
                enum_word(common_pb2.OsType, agent.os_type),
                agent.time_zone,
                format_time(agent.last_heartbeat_time),
                tags_text(agent.tags),
            ]
            for agent in agents
        ],
    )
