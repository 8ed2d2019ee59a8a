"""This machine as a managed instance: registered once with an activation, then known by
the instance id and credential kept in the state directory.

``credential.json`` (mode 0600, written to a temporary name and renamed, so a crash
leaves the old file or the new one) holds the instance id, its name and the credential.
The credential speaks for this instance only; the activation code is not kept.

``registration.json`` (written the same way) holds the registration id of a registration
under way, with its activation's id: kept before the first Register call and sent on each
retry, also after a restart, so that the server returns the instance a call whose
response was lost made instead of making another (``RegisterRequest.registration_id``).
It is deleted once the credential is kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
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
REGISTRATION_FILE = "registration.json"
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
    _write(
        state_dir,
        CREDENTIAL_FILE,
        {
            "instance_id": credential.instance_id,
            "instance_name": credential.instance_name,
            "credential": credential.credential,
        },
    )


def pending_registration(state_dir: Path, activation_id: str) -> str:
    """The registration id to register with ``activation_id`` under: the one kept in
    ``state_dir`` for it (a registration an earlier run began), or a new one, kept before
    it is returned (so before any server may have registered under it)."""
    kept = _read_registration(state_dir / REGISTRATION_FILE)
    if kept is not None and kept.get("activation_id") == activation_id:
        return kept["registration_id"]
    # None yet, or another activation's: under this one that registration made nothing.
    registration_id = secrets.token_hex(16)
    _write(
        state_dir,
        REGISTRATION_FILE,
        {"activation_id": activation_id, "registration_id": registration_id},
    )
    return registration_id


def forget_registration(state_dir: Path) -> None:
    """The registration is over (its credential kept): the next one gets a new id."""
    (state_dir / REGISTRATION_FILE).unlink(missing_ok=True)
    _sync_directory(state_dir)


def _read_registration(path: Path) -> dict[str, str] | None:
    """A ``registration.json``'s activation and registration ids; None for none, or one
    that cannot be used (never written so by this agent: the registration starts over)."""
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as error:
        log.warning("ignoring registration file %s: %s", path, error)
        return None
    fields = ("activation_id", "registration_id")
    if not (
        isinstance(document, dict)
        and all(isinstance(document.get(key), str) and document[key] for key in fields)
    ):
        log.warning("ignoring registration file %s: not one this agent wrote", path)
        return None
    return {key: document[key] for key in fields}


def _write(state_dir: Path, name: str, document: dict[str, str]) -> None:
    """Write ``document`` as ``state_dir/name``, readable by this user only, atomically: a
    crash leaves the old file or the new one, and the rename survives it."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / name
    temporary = path.with_name(path.name + ".tmp")
    # Created 0600 from the start: never readable by others, not even for a moment.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(json.dumps(document).encode())
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _sync_directory(state_dir)


def _sync_directory(state_dir: Path) -> None:
    directory = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(directory)  # a rename or a deletion survives a crash
    finally:
        os.close(directory)


async def register_and_keep(
    state_dir: Path,
    servers: tuple[str, ...],
    activation: Activation,
    *,
    tls: ClientTls | None = None,
    backoff: Backoff | None = None,
) -> Credential:
    """Register with ``activation`` (``register``) and keep the credential in
    ``state_dir``, under one registration id from before the first call until the
    credential is kept: a retry, in this run or the next, is the same instance. A state
    directory that cannot be written raises ``OSError`` before any call."""
    registration_id = pending_registration(state_dir, activation.activation_id)
    credential = await register(
        servers, activation, registration_id=registration_id, tls=tls, backoff=backoff
    )
    save_credential(state_dir, credential)
    forget_registration(state_dir)
    return credential


async def register(
    servers: tuple[str, ...],
    activation: Activation,
    *,
    registration_id: str = "",
    tls: ClientTls | None = None,
    backoff: Backoff | None = None,
) -> Credential:
    """Register with ``activation`` at the first of ``servers`` that answers (over ``tls``).

    An unreachable server is retried (the next address, with back-off) until one
    answers; a refusal raises ``RegistrationRefused`` with the server's reason. Every
    call carries ``registration_id``: a retry of a call the server answered is the
    instance that call made.
    """
    rotation = Rotation(servers)
    tls = tls or ClientTls()
    backoff = backoff or Backoff()
    request = agent_pb2.RegisterRequest(
        activation_id=activation.activation_id,
        activation_code=activation.code,
        hostname=socket.gethostname()[:255],
        registration_id=registration_id,
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
