"""This machine as a managed instance: registered once with an activation, then known by
the instance id and credential kept in the state directory.

``credential.json`` (mode 0600, written to a temporary name and renamed, so a crash
leaves the old file or the new one) holds the instance id, its name and the credential.
The credential speaks for this instance only; the activation code is not kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from agent.connection import Backoff
from agent.servers import Rotation
from agent.tls import ClientTls, ClientTlsError
from agent.tokens import TokenError, checked
from kairos.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

CREDENTIAL_FILE = "credential.json"
REGISTER_TIMEOUT = 30.0
"""Seconds one registration call may take."""
REFUSALS = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INVALID_ARGUMENT,
    }
)
"""The answers that trying again would not change: the agent stops and says why."""


@dataclass(frozen=True, kw_only=True)
class Activation:
    """``--activation-id`` and ``--activation-code``."""

    activation_id: str
    code: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Credential:
    """Who this machine is: its managed instance, and the secret that proves it."""

    instance_id: str
    instance_name: str
    credential: str = field(repr=False)


class RegistrationRefused(Exception):
    """The server refused the registration; the message says why (never the code)."""


class CredentialError(Exception):
    """``credential.json`` cannot be used; the message names the file and says what is
    wrong (never the credential)."""


def load_credential(state_dir: Path) -> Credential | None:
    """The credential kept in ``state_dir``; None when this machine never registered,
    ``CredentialError`` when the file cannot be used."""
    path = state_dir / CREDENTIAL_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CredentialError(f"cannot read credential file {path}: {error.strerror}") from None
    try:
        return _parse_credential(data)
    except ValueError as error:
        # Written whole by ``save_credential``, so damaged since (by hand, a restore, a
        # disk): only a person can tell which instance this machine was.
        raise CredentialError(
            f"credential file {path}: {error}; restore it, or delete it to register this "
            "machine again"
        ) from None


def _parse_credential(data: bytes) -> Credential:
    """The credential in a ``credential.json``'s bytes; ValueError says what is wrong."""
    try:
        document = json.loads(data)
    # UnicodeDecodeError is a ValueError; deep nesting exhausts the parser's recursion.
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError("no JSON object")
    fields: dict[str, str] = {}
    for key in ("instance_id", "instance_name", "credential"):
        if key not in document:
            raise ValueError(f"no {key}")
        value = document[key]
        if not isinstance(value, str):
            raise ValueError(f"{key} is not a string")
        try:
            value.encode()  # a lone surrogate (JSON "\ud800") would fail every Hello
        except UnicodeEncodeError:
            raise ValueError(f"{key} is not Unicode text") from None
        fields[key] = value
    if not fields["instance_id"].strip():
        raise ValueError("instance_id is empty")
    try:
        # Sent as `authorization: Bearer`: what a header cannot carry failed every Connect.
        credential = checked(fields["credential"].encode(), "the credential")
    except TokenError as error:
        raise ValueError(str(error)) from None
    return Credential(
        instance_id=fields["instance_id"],
        instance_name=fields["instance_name"],
        credential=credential,
    )


def save_credential(state_dir: Path, credential: Credential) -> None:
    """Keep ``credential`` in ``state_dir``, readable by this user only, atomically."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / CREDENTIAL_FILE
    temporary = path.with_name(path.name + ".tmp")
    data = json.dumps(
        {
            "instance_id": credential.instance_id,
            "instance_name": credential.instance_name,
            "credential": credential.credential,
        }
    ).encode()
    # Created 0600 from the start: never readable by others, not even for a moment.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


async def register(
    servers: tuple[str, ...],
    activation: Activation,
    *,
    tls: ClientTls | None = None,
    backoff: Backoff | None = None,
) -> Credential:
    """Register with ``activation`` at the first of ``servers`` that answers (over ``tls``).

    An unreachable server is retried (the next address, with back-off) until one
    answers; a refusal raises ``RegistrationRefused`` with the server's reason.
    """
    rotation = Rotation(servers)
    tls = tls or ClientTls()
    backoff = backoff or Backoff()
    request = agent_pb2.RegisterRequest(
        activation_id=activation.activation_id,
        activation_code=activation.code,
        hostname=socket.gethostname()[:255],
    )
    while True:
        try:
            async with tls.channel(rotation.current) as channel:
                response = await agent_pb2_grpc.AgentServiceStub(channel).Register(
                    request, timeout=REGISTER_TIMEOUT
                )
        except grpc.aio.AioRpcError as error:
            if error.code() in REFUSALS:
                raise RegistrationRefused(f"{error.code().name}: {error.details()}") from None
            log.warning(
                "registration at %s failed: %s %s; retrying",
                rotation.current,
                error.code().name,
                error.details(),
            )
        except ClientTlsError as error:  # a rotated file caught while it was replaced
            log.warning("cannot reach %s: %s; retrying", rotation.current, error)
        else:
            log.info(
                "registered with activation %s",
                activation.activation_id,
                extra={"instance_id": response.instance_id},
            )
            return Credential(
                instance_id=response.instance_id,
                instance_name=response.instance_name,
                credential=response.credential,
            )
        rotation.advance()
        await asyncio.sleep(backoff.next_delay())
