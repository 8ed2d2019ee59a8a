"""Activation codes and instance credentials: made, hashed and compared.

Both are random secrets of at least 192 bits made here, never chosen by people.
The server keeps only their SHA-256: for a secret that cannot be guessed, a fast
unsalted hash is as strong as a slow salted one (salt and stretching defend
low-entropy passwords against dictionaries; 2^192 candidates are no dictionary),
and a deterministic hash lets a credential be found by an index in one lookup,
which the connect of every agent pays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError

ACTIVATION_CODE_PREFIX = "kac_"
"""How an activation code starts: a code is typed after ``--activation-code``, and a
bare URL-safe token starts with ``-`` one time in 64, which a command line takes for a
flag; the prefix also tells a leaked code from a credential at a glance."""
CREDENTIAL_PREFIX = "kmi_"
"""How an instance credential starts: the server looks such a bearer token up among
the instance credentials instead of the auth file's tokens."""
MANAGED_PREFIX = "mi-"
"""How a managed instance's id starts; no other instance may have such an id."""
MAX_TOKEN_BYTES = 4096
"""The longest bearer token (or activation code): PIPE_BUF, so that the agent hands it
to its next process image through an empty pipe in one write that never blocks; far
within the 8 KiB of metadata gRPC accepts by default."""


def token_problem(token: bytes) -> str | None:
    """What keeps ``token`` from being sent as ``authorization: Bearer <token>`` and
    arriving as itself, as words to follow its name ("is empty"); None if nothing does.

    A token is one word of printable ASCII: gRPC metadata carries printable ASCII only,
    and the server strips the whitespace around the header's token (the agent around
    its token file's).
    """
    if not token:
        return "is empty"
    if len(token) > MAX_TOKEN_BYTES:
        return f"holds more than {MAX_TOKEN_BYTES} bytes"
    if not all(0x21 <= byte <= 0x7E for byte in token):
        return "may hold only printable ASCII, without spaces"
    return None


def new_activation_code() -> str:
    """A new activation code: ``kac_`` and 192 random bits, URL-safe text."""
    return ACTIVATION_CODE_PREFIX + secrets.token_urlsafe(24)


def new_credential() -> str:
    """A new instance credential: ``kmi_`` and 256 random bits, URL-safe text."""
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the server stores of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one whose ``digest`` is ``stored``, in constant time."""
    return hmac.compare_digest(digest(secret), stored)


def is_instance_credential(token: str) -> bool:
    """Whether a bearer token is (in form) an instance credential."""
    return token.startswith(CREDENTIAL_PREFIX)


def is_managed(instance_id: str) -> bool:
    """Whether an instance id is a managed instance's (``mi-`` and the rest)."""
    return instance_id.startswith(MANAGED_PREFIX)


def check_speaks_for(credential_instance: str | None, instance_id: str) -> None:
    """Refuse (PERMISSION_DENIED) a Hello as ``instance_id`` on a stream whose credential
    speaks for ``credential_instance`` (None: an account's agent token, which speaks for
    every instance of its tenant but the managed ones, whose own credential alone does)."""
    if credential_instance is None and not is_managed(instance_id):
        return
    if credential_instance == instance_id:
        return
    speaks = (
        "an account's agent token speaks for no managed instance"
        if credential_instance is None
        else f"this credential speaks for {credential_instance} only"
    )
    raise KairosError(
        kind=ErrorKind.PERMISSION_DENIED,
        code=RefusalCode.FORBIDDEN_INSTANCE,
        message=f"Hello as {instance_id} refused: {speaks}",
    )
