"""``kairos agent --server A,B,…``: which lists are addresses, and the order they are tried in."""

import pytest

from agent.servers import Rotation, parse_servers


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ("127.0.0.1:50051", ("127.0.0.1:50051",)),
        ("a:1, b:2", ("a:1", "b:2")),
        ("kairos-agents.kairos.svc:50051", ("kairos-agents.kairos.svc:50051",)),
        ("[::1]:50051,10.0.0.2:65535", ("[::1]:50051", "10.0.0.2:65535")),
    ],
)
def test_addresses_in_the_order_given(text: str, servers: tuple[str, ...]) -> None:
    assert parse_servers(text) == servers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "entry '' is not HOST:PORT"),
        ("a:1,", "entry '' is not HOST:PORT"),
        ("localhost", "entry 'localhost' is not HOST:PORT"),
        (":50051", "entry ':50051' is not HOST:PORT"),
        ("a:0", "a port from 1 to 65535"),
        ("a:65536", "a port from 1 to 65535"),
        ("a:http", "entry 'a:http' is not HOST:PORT"),
        ("my host:1", "entry 'my host:1' has a space in its host"),
        ("a:1,b:2,a:1", "an address is listed twice"),
    ],
)
def test_a_bad_list_names_the_entry_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_servers(text)


def test_rotation_starts_with_the_first_and_wraps_around() -> None:
    rotation = Rotation(("a:1", "b:2", "c:3"))
    seen = [rotation.current]
    for _ in range(3):
        rotation.advance()
        seen.append(rotation.current)
    assert seen == ["a:1", "b:2", "c:3", "a:1"]


def test_one_address_is_always_the_one() -> None:
    rotation = Rotation(("a:1",))
    rotation.advance()
    assert rotation.current == "a:1"


def test_no_address_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one server address"):
        Rotation(())
