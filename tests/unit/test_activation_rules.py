"""The pure rules of activations: the request's limits, addresses and ranges, refusals."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.activations import (
    ANY_ADDRESS,
    MAX_IP_ADDRESS_RANGE,
    ActivationRequest,
    Gate,
    address_range,
    check_activation,
    peer_address,
    refusal,
    within,
)
from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import digest, matches, new_activation_code, new_credential
from scheduler.domain.errors import ErrorKind, KairosError


def request(**fields: object) -> ActivationRequest:
    values: dict[str, object] = {
        "instance_name": "web",
        "instance_count": 3,
        "time_to_live_in_hours": 0,
        "ip_address_range": "",
        "description": "",
    }
    values.update(fields)
    return ActivationRequest(**values)  # type: ignore[arg-type]


def test_defaults_are_four_hours_and_any_address() -> None:
    checked = check_activation(request())
    assert checked.time_to_live == timedelta(hours=4)
    assert checked.ip_address_range == ANY_ADDRESS


@pytest.mark.parametrize(
    ("fields", "code", "field", "needle"),
    [
        (
            {"instance_count": 0},
            RefusalCode.INVALID_PARAM_INSTANCE_COUNT,
            "instance_count",
            "between 1 and 1000, got 0",
        ),
        (
            {"instance_count": 1001},
            RefusalCode.INVALID_PARAM_INSTANCE_COUNT,
            "instance_count",
            "got 1001",
        ),
        (
            {"time_to_live_in_hours": 876_001},
            RefusalCode.INVALID_PARAM_TIME_TO_LIVE_IN_HOURS,
            "time_to_live_in_hours",
            "between 1 and 876000",
        ),
        (
            {"time_to_live_in_hours": -1},
            RefusalCode.INVALID_PARAM_TIME_TO_LIVE_IN_HOURS,
            "time_to_live_in_hours",
            "got -1",
        ),
        (
            {"ip_address_range": "10.0.0.1/8"},
            RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE,
            "ip_address_range",
            "without host bits",
        ),
        (
            {"ip_address_range": "not a network"},
            RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE,
            "ip_address_range",
            "CIDR",
        ),
        (
            {"instance_name": "n" * 129},
            RefusalCode.INVALID_PARAM_INSTANCE_NAME,
            "instance_name",
            "the limit is 128",
        ),
        (
            {"description": "d" * 513},
            RefusalCode.INVALID_PARAM_DESCRIPTION,
            "description",
            "the limit is 512",
        ),
    ],
)
def test_bad_requests_name_the_field_and_the_rule(
    fields: dict[str, object], code: RefusalCode, field: str, needle: str
) -> None:
    with pytest.raises(KairosError) as raised:
        check_activation(request(**fields))
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
    assert raised.value.code is code
    assert [v.field for v in raised.value.violations] == [field]
    assert needle in raised.value.message


def test_ranges_are_canonical() -> None:
    assert address_range(" 2001:DB8::/32 ") == "2001:db8::/32"
    assert address_range("192.168.1.7/32") == "192.168.1.7/32"
    assert address_range("fe80::/64") == "fe80::/64"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("fe80::%eth0/64", "without a zone (an IPv6 %interface suffix): "),
        (f"fe80::%{'z' * 80}/64", "give fe80::/64"),
        ("2001:db8::%1/32", "give 2001:db8::/32"),
        ("::ffff:127.0.0.0/104", "IPv4-mapped IPv6 network: a caller over IPv4 is checked by"),
        ("::FFFF:7f00:0/104", "give 127.0.0.0/8"),
        ("::ffff:10.0.0.5/128", "give 10.0.0.5/32"),
        ("::ffff:0:0/96", "give 0.0.0.0/0 (which admits every caller, IPv6 ones too)"),
    ],
)
def test_a_range_no_caller_can_be_inside_is_refused(text: str, rule: str) -> None:
    with pytest.raises(KairosError) as raised:
        address_range(text)
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
    assert raised.value.code is RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE
    assert [v.field for v in raised.value.violations] == ["ip_address_range"]
    assert rule in raised.value.message


def test_an_ipv6_range_around_the_mapped_block_is_a_plain_ipv6_range() -> None:
    # Only a network inside ::ffff:0:0/96 is mapped; one that holds it is IPv6 (a mapped
    # caller, read as IPv4, is outside it, as ``within`` says).
    assert address_range("::fffe:0:0/95") == "::fffe:0:0/95"
    assert address_range("::/0") == "::/0"


@st.composite
def written_networks(draw: st.DrawFn) -> tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A network of either family as an operator might write it, and the network meant."""
    if draw(st.booleans()):
        prefix = draw(st.integers(0, 32))
        network: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.IPv4Network(
            (draw(st.integers(0, 2**32 - 1)) >> (32 - prefix) << (32 - prefix), prefix)
        )
        return f"{network}", network
    prefix = draw(st.integers(0, 128))
    if draw(st.booleans()):  # the mapped block and its neighbours
        base = draw(st.integers(0xFFFE_0000_0000, 0x1_0000_FFFF_FFFF))
    else:
        base = draw(st.integers(0, 2**128 - 1))
    network = ipaddress.IPv6Network((base >> (128 - prefix) << (128 - prefix), prefix))
    address = draw(
        st.sampled_from(
            [
                network.network_address.compressed,
                network.network_address.exploded,
                network.network_address.exploded.upper(),
            ]
        )
    )
    zone = draw(st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789.", min_size=1))
    return f"{address}{'' if zone is None else '%' + zone}/{prefix}", network


@given(written_networks())
def test_every_accepted_range_fits_its_column_and_can_hold_a_caller(
    written: tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    text, network = written
    zoned = "%" in text
    mapped = isinstance(network, ipaddress.IPv6Network) and network.subnet_of(
        ipaddress.IPv6Network("::ffff:0:0/96")
    )
    try:
        stored = address_range(text)
    except KairosError as refused:
        assert zoned or mapped, refused.message
        assert [v.field for v in refused.violations] == ["ip_address_range"]
        return
    assert not (zoned or mapped)
    assert stored == str(network)
    assert len(stored) <= MAX_IP_ADDRESS_RANGE
    assert address_range(stored) == stored
    # A caller at the network's own address, as gRPC reports it, is inside it.
    first = network.network_address
    peer = f"ipv4:{first}:1" if network.version == 4 else f"ipv6:%5B{first}%5D:1"
    assert within(peer_address(peer), stored)


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.1.2.3:50000", "10.1.2.3"),
        ("ipv6:[::1]:50000", "::1"),
        ("ipv6:[::ffff:10.1.2.3]:50000", "10.1.2.3"),
        # As gRPC 1.85 reports IPv6 peers: percent-encoded, a zone too.
        ("ipv6:%5B::1%5D:1", "::1"),
        ("ipv6:%5B2001:db8::7%5D:443", "2001:db8::7"),
        ("ipv6:%5B::ffff:10.1.2.3%5D:1", "10.1.2.3"),
        ("ipv6:%5Bfe80::1%25eth0%5D:1", "fe80::1"),
        ("ipv6:[fe80::1%eth0]:1", "fe80::1"),
        ("unix:/tmp/socket", None),
        ("", None),
    ],
)
def test_peer_addresses(peer: str, address: str | None) -> None:
    assert peer_address(peer) == address


@pytest.mark.parametrize(
    ("address", "network", "inside"),
    [
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("::1", "10.0.0.0/8", False),
        ("::1", ANY_ADDRESS, True),
        (None, ANY_ADDRESS, True),
        (None, "10.0.0.0/8", False),
        ("2001:db8::5", "2001:db8::/32", True),
        ("10.1.2.3", "2001:db8::/32", False),
    ],
)
def test_within(address: str | None, network: str, inside: bool) -> None:
    assert within(address, network) is inside


def gate(**fields: object) -> Gate:
    values: dict[str, object] = {
        "code_hash": digest("c0de-right"),
        "disabled": False,
        "expired": False,
        "ip_address_range": ANY_ADDRESS,
        "registered_count": 1,
        "instance_count": 1,
    }
    values.update(fields)
    return Gate(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "code", "kind", "reason"),
    [
        (None, "c0de-right", ErrorKind.UNAUTHENTICATED, RefusalCode.INVALID_ACTIVATION_CODE),
        (gate(), "c0de-wrong", ErrorKind.UNAUTHENTICATED, RefusalCode.INVALID_ACTIVATION_CODE),
        # A wrong code learns nothing else of the activation.
        (
            gate(disabled=True, expired=True),
            "c0de-wrong",
            ErrorKind.UNAUTHENTICATED,
            RefusalCode.INVALID_ACTIVATION_CODE,
        ),
        (
            gate(disabled=True),
            "c0de-right",
            ErrorKind.FAILED_PRECONDITION,
            RefusalCode.INVALID_ACTIVATION_DISABLED,
        ),
        (
            gate(expired=True),
            "c0de-right",
            ErrorKind.FAILED_PRECONDITION,
            RefusalCode.INVALID_ACTIVATION_EXPIRED,
        ),
        (
            gate(ip_address_range="10.0.0.0/8"),
            "c0de-right",
            ErrorKind.PERMISSION_DENIED,
            RefusalCode.INVALID_ACTIVATION_IP_ADDRESS_RANGE,
        ),
        (
            gate(),
            "c0de-right",
            ErrorKind.RESOURCE_EXHAUSTED,
            RefusalCode.INVALID_ACTIVATION_COUNT_EXHAUSTED,
        ),
    ],
)
def test_refusals_say_why(
    found: Gate | None, code: str, kind: ErrorKind, reason: RefusalCode
) -> None:
    error = refusal(found, code, "192.0.2.1")
    assert (error.kind, error.code) == (kind, reason)
    assert code not in error.message


def test_an_activation_code_never_reads_as_a_command_line_flag() -> None:
    # A bare token_urlsafe starts with "-" one time in 64: 2,000 codes would all but
    # surely hold one, which `kairos agent --activation-code CODE` took for a flag.
    codes = [new_activation_code() for _ in range(2000)]
    assert all(code.startswith("kac_") and len(code) > 30 for code in codes)


def test_secrets_are_random_and_only_their_digest_matches() -> None:
    assert new_activation_code() != new_activation_code()
    credential = new_credential()
    assert credential.startswith("kmi_") and len(credential) > 40
    assert matches(credential, digest(credential))
    assert not matches(credential + "x", digest(credential))
    assert credential not in digest(credential)
