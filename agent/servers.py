"""The dispatcher addresses of ``kairos agent --server A,B,…``: checked once, tried in turn."""

from __future__ import annotations

MAX_PORT = 65535


def parse_servers(text: str) -> tuple[str, ...]:
    """The ``HOST:PORT`` addresses of a comma-separated list, in the order given.

    Raises ``ValueError`` with a message naming the rule an entry breaks: a
    typo must stop the agent at start, not leave it retrying an address forever.
    """
    servers = tuple(entry.strip() for entry in text.split(","))
    for server in servers:
        try:
            check_address(server)
        except ValueError as error:
            raise ValueError(f"entry {error}") from None
    if len(set(servers)) != len(servers):
        raise ValueError(f"an address is listed twice in {text!r}")
    return servers


def check_address(address: str) -> None:
    """Raise ``ValueError`` unless ``address`` is one ``HOST:PORT`` a client can reach."""
    host, colon, port = address.rpartition(":")
    # An IPv6 host is bracketed ([::1]:50051): its own colons stay inside the brackets.
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= MAX_PORT:
        raise ValueError(
            f"{address!r} is not HOST:PORT (a host, a colon and a port from 1 to {MAX_PORT})"
        )
    if any(character.isspace() for character in host):
        raise ValueError(f"{address!r} has a space in its host")


class Rotation:
    """The address to try next: the first, then each in turn after every stream that ended.

    An agent whose replica died finds another on its next attempt; a list of one
    address behaves as a single ``--server``. Agents split over replicas by listing
    them in different orders.
    """

    def __init__(self, servers: tuple[str, ...]) -> None:
        if not servers:
            raise ValueError("at least one server address is needed")
        self._servers = servers
        self._turn = 0

    @property
    def current(self) -> str:
        return self._servers[self._turn]

    def advance(self) -> None:
        self._turn = (self._turn + 1) % len(self._servers)
