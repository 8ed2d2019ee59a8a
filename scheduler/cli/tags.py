"""`kairos tag|untag|tags`: tags on instances, commands, invocations and activations,
shaped like `kubectl label` and `kubectl get -l`."""

import argparse
from collections.abc import Callable, Iterable, Sequence

from kairos.v1 import common_pb2, tag_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.errors import UsageError
from scheduler.cli.flags import tag_pair
from scheduler.cli.output import print_done, print_json, print_page_hint, render_table

# By the words of `flags.RESOURCE_TYPES`.
RESOURCE_TYPES = {
    "instance": common_pb2.RESOURCE_TYPE_INSTANCE,
    "command": common_pb2.RESOURCE_TYPE_COMMAND,
    "invocation": common_pb2.RESOURCE_TYPE_INVOCATION,
    "activation": common_pb2.RESOURCE_TYPE_ACTIVATION,
}


def tag(args: argparse.Namespace) -> int:
    """`kairos tag TYPE ID... KEY=VALUE...`: TagResources (ids first, then tags)."""
    ids, pairs = _split(args.items, lambda item: "=" in item, "KEY=VALUE")
    try:
        given = [tag_pair(p) for p in pairs]
    except argparse.ArgumentTypeError as error:
        raise UsageError(str(error)) from None
    request = tag_pb2.TagResourcesRequest(
        resource_type=RESOURCE_TYPES[args.resource_type],
        resource_ids=ids,
        tags=to_tags(given),
    )
    with Client.from_args(args) as client:
        response = client.tag_resources(request)
    return print_done(response, args.json, f"tagged {len(ids)} {args.resource_type}(s)")


def untag(args: argparse.Namespace) -> int:
    """`kairos untag TYPE ID... KEY-...` (or `--all`): UntagResources of API tags."""
    if args.all:
        if any(item.endswith("-") for item in args.items):
            raise UsageError("give the keys to remove as KEY- (like kubectl label), or --all")
        ids, keys = list(args.items), list[str]()
    else:
        ids, keys = _split(args.items, lambda item: item.endswith("-"), "KEY-")
    request = tag_pb2.UntagResourcesRequest(
        resource_type=RESOURCE_TYPES[args.resource_type],
        resource_ids=ids,
        tag_keys=[key.removesuffix("-") for key in keys],
        all=args.all,
    )
    with Client.from_args(args) as client:
        response = client.untag_resources(request)
    return print_done(response, args.json, f"untagged {len(ids)} {args.resource_type}(s)")


def tags(args: argparse.Namespace) -> int:
    """`kairos tags [TYPE] [ID...] [-l KEY=VALUE]`: ListTagResources as a table."""
    if bool(args.ids) == bool(args.selector):
        raise UsageError("give resource ids or -l KEY=VALUE (one of the two)")
    request = tag_pb2.ListTagResourcesRequest(
        resource_type=RESOURCE_TYPES[args.resource_type],
        resource_ids=args.ids,
        tags=to_tags(args.selector or []),
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.list_tag_resources, request, every=args.all)
    if args.json:
        print_json(response)
        return 0
    print(
        render_table(
            [args.resource_type.upper(), "KEY", "VALUE", "SOURCE"],
            [
                [t.resource_id, t.tag_key, t.tag_value, "agent" if t.reported else "api"]
                for t in response.tag_resources
            ],
        )
    )
    # ListTagResources has no total_count: the page's length is not the number of tags.
    print_page_hint(len(response.tag_resources), None, response.next_token)
    return 0


def to_tags(pairs: Iterable[tuple[str, str]]) -> list[common_pb2.Tag]:
    """Tag messages of (key, value) pairs, in order."""
    return [common_pb2.Tag(key=k, value=v) for k, v in pairs]


def tags_text(given: Sequence[common_pb2.Tag]) -> str:
    """A resource's tags in a table cell: `k=v,k2=v2`, `-` for none; a comma or backslash
    in a key or value is escaped as `-l` reads it, so a cell can be pasted into `-l`."""
    return ",".join(f"{_escaped(t.key)}={_escaped(t.value)}" for t in given) or "-"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,")


def _split(
    items: Sequence[str], is_second: Callable[[str], bool], second: str
) -> tuple[list[str], list[str]]:
    """Ids first, then the items of the second kind (``is_second``), each at least once."""
    index = next((n for n, item in enumerate(items) if is_second(item)), len(items))
    ids, rest = list(items[:index]), list(items[index:])
    if not ids or not rest or not all(is_second(item) for item in rest):
        raise UsageError(f"expected ID... {second}... (ids first, then at least one {second})")
    return ids, rest
