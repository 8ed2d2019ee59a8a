"""Activations: the rules of creating one and of registering a machine with it (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import matches
from scheduler.domain.errors import ErrorKind, KairosError, invalid, precondition
from scheduler.domain.limits import (
    MAX_CLIENT_TOKEN,
    MAX_DESCRIPTION,
    MAX_NAME,
    check_length,
    check_token,
)

MIN_INSTANCE_COUNT = 1
MAX_INSTANCE_COUNT = 1_000
DEFAULT_TIME_TO_LIVE_HOURS = 4
MAX_TIME_TO_LIVE_HOURS = 876_000
"""A hundred years: Cloud Assistant's limit."""
ANY_ADDRESS = "0.0.0.0/0"
"""The range of an activation that names none: every caller, IPv6 ones too."""
MAX_HOSTNAME = 255
MAX_IP_ADDRESS_RANGE = 64
"""Characters of a stored range (its column): ``address_range``'s longest canonical form,
``ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128``, has 43."""
MAX_REGISTRATION_ID = MAX_CLIENT_TOKEN
"""Characters of a registration id (its column): a client token's rules, for the same use."""


@dataclass(frozen=True, kw_only=True)
class ActivationRequest:
    """CreateActivation as asked: 0 and empty mean the defaults."""

    instance_name: str
    instance_count: int
    time_to_live_in_hours: int
    ip_address_range: str
    description: str


@dataclass(frozen=True, kw_only=True)
class NewActivation:
    """A checked CreateActivation: defaults applied, the range in canonical form."""

    instance_name: str
    instance_count: int
    time_to_live: timedelta
    ip_address_range: str
    description: str


@dataclass(frozen=True, kw_only=True)
class Activation:
    """An activation as DescribeActivations shows it (never its code)."""

    id: str
    instance_name: str
    instance_count: int
    registered_count: int
    deregistered_count: int
    ip_address_range: str
    description: str
    disabled: bool
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class Gate:
    """What a registration is checked against: an activation's stored state, and now."""

    code_hash: str
    disabled: bool
    expired: bool
    ip_address_range: str
    registered_count: int
    instance_count: int


def check_activation(request: ActivationRequest) -> NewActivation:
    """The activation to create, or INVALID_ARGUMENT naming the field and its rule."""
    check_length(
        RefusalCode.INVALID_PARAM_INSTANCE_NAME, "instance_name", request.instance_name, MAX_NAME
    )
    check_length(
        RefusalCode.INVALID_PARAM_DESCRIPTION, "description", request.description, MAX_DESCRIPTION
    )
    if not MIN_INSTANCE_COUNT <= request.instance_count <= MAX_INSTANCE_COUNT:
        raise invalid(
            RefusalCode.INVALID_PARAM_INSTANCE_COUNT,
            "instance_count",
            f"instance_count must be between {MIN_INSTANCE_COUNT} and {MAX_INSTANCE_COUNT}, "
            f"got {request.instance_count}",
        )
    hours = request.time_to_live_in_hours or DEFAULT_TIME_TO_LIVE_HOURS
    if not 1 <= hours <= MAX_TIME_TO_LIVE_HOURS:
        raise invalid(
            RefusalCode.INVALID_PARAM_TIME_TO_LIVE_IN_HOURS,
            "time_to_live_in_hours",
            f"time_to_live_in_hours must be between 1 and {MAX_TIME_TO_LIVE_HOURS} "
            f"(0 means {DEFAULT_TIME_TO_LIVE_HOURS}), got {hours}",
        )
    return NewActivation(
        instance_name=request.instance_name,
        instance_count=request.instance_count,
        time_to_live=timedelta(hours=hours),
        ip_address_range=address_range(request.ip_address_range),
        description=request.description,
    )


def check_registration_id(registration_id: str) -> str:
    """Return a Register's registration id if it is valid (empty: none, an older agent)."""
    return check_token(
        RefusalCode.INVALID_PARAM_REGISTRATION_ID, "registration_id", registration_id
    )


def address_range(text: str) -> str:
    """A CIDR network in canonical form (empty: ``ANY_ADDRESS``), or INVALID_ARGUMENT:
    one network a caller's address (``peer_address``) can be inside."""
    if not text.strip():
        return ANY_ADDRESS
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise _bad_range(
            f"ip_address_range must be one network in CIDR notation without host bits, "
            f"such as 10.0.0.0/8 or 2001:db8::/32; got {text[:64]!r}"
        ) from None
    if isinstance(network, ipaddress.IPv6Network):
        _check_ipv6_range(network)
    return str(network)


def _check_ipv6_range(network: ipaddress.IPv6Network) -> None:
    """Refuse the IPv6 networks ``ip_network`` accepts that no caller can be inside."""
    # int() drops the zone: the same network as a caller's address is checked against.
    plain = ipaddress.IPv6Network((int(network.network_address), network.prefixlen))
    if network.network_address.scope_id is not None:
        # A caller's address is read without its zone, and PostgreSQL's cidr (the range
        # is checked there) has none: stored, every registration with it failed INTERNAL,
        # and a long zone overflowed the column.
        raise _bad_range(
            "ip_address_range must be a network without a zone (an IPv6 %interface "
            f"suffix): a caller is checked by its address alone; give {plain}"
        )
    mapped = plain.network_address.ipv4_mapped
    if mapped is not None and plain.prefixlen >= 96:
        # ``peer_address`` reads a mapped caller as the IPv4 one it is, so a mapped range
        # would admit nobody. Refused rather than rewritten to its IPv4 network: the range
        # an operator reads back is the one they gave, and the refusal says what to give.
        ipv4 = ipaddress.IPv4Network((mapped, plain.prefixlen - 96))
        admits = " (which admits every caller, IPv6 ones too)" if ipv4.prefixlen == 0 else ""
        raise _bad_range(
            "ip_address_range must not be an IPv4-mapped IPv6 network: a caller over "
            f"IPv4 is checked by its IPv4 address; give {ipv4}{admits}"
        )


def _bad_range(message: str) -> KairosError:
    return invalid(RefusalCode.INVALID_PARAM_IP_ADDRESS_RANGE, "ip_address_range", message)


def peer_address(peer: str) -> str | None:
    """The IP address of a gRPC peer (``ipv4:10.0.0.1:5000``, ``ipv6:[::1]:5000``); None
    for a peer without one (a Unix socket). An IPv4 address mapped into IPv6 is IPv4."""
    # gRPC (1.85 at least) percent-encodes an IPv6 peer as a URI: ``ipv6:%5B::1%5D:5000``,
    # a zone as ``%25eth0``. Read raw, every IPv6 caller had no address.
    kind, _, rest = unquote(peer).partition(":")
    if kind == "ipv4":
        host = rest.rpartition(":")[0]
    elif kind == "ipv6":
        host = rest.rpartition(":")[0].strip("[]")
    else:
        return None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def within(address: str | None, network: str) -> bool:
    """Whether ``address`` may register with an activation of range ``network``: any
    address for a ``/0`` network (of either family), else one inside it."""
    net = ipaddress.ip_network(network)
    if net.prefixlen == 0:
        return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return ip.version == net.version and ip in net


def refusal(gate: Gate | None, code: str, address: str | None) -> KairosError:
    """Why a registration took no count: checked in the order the issue gives, the code
    first (a caller without it learns nothing else of the activation)."""
    if gate is None or not matches(code, gate.code_hash):
        return KairosError(
            kind=ErrorKind.UNAUTHENTICATED,
            code=RefusalCode.INVALID_ACTIVATION_CODE,
            message="wrong activation id or activation code",
        )
    if gate.disabled:
        return precondition(RefusalCode.INVALID_ACTIVATION_DISABLED, "the activation is disabled")
    if gate.expired:
        return precondition(RefusalCode.INVALID_ACTIVATION_EXPIRED, "the activation has expired")
    if not within(address, gate.ip_address_range):
        return KairosError(
            kind=ErrorKind.PERMISSION_DENIED,
            code=RefusalCode.INVALID_ACTIVATION_IP_ADDRESS_RANGE,
            message=f"the caller's address {address or 'unknown'} is outside the "
            f"activation's IP address range {gate.ip_address_range}",
        )
    return KairosError(
        kind=ErrorKind.RESOURCE_EXHAUSTED,
        code=RefusalCode.INVALID_ACTIVATION_COUNT_EXHAUSTED,
        message=f"the activation registered its {gate.instance_count} instances already",
    )
