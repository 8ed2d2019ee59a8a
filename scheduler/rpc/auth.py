"""Bearer tokens: the auth file, and turning a token into a caller."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import Role
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import DEFAULT_TENANT, Caller, Tenant


class AuthFileError(ValueError):
    """The auth file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class TokenTable:
    """Known tokens by value; ``open_access`` lets every caller act as the default tenant."""

    callers: dict[str, Caller]
    open_access: bool = False

    def authenticate(self, authorization: str | bytes | None, role: Role) -> Caller | KairosError:
        """The caller behind an ``authorization`` header, or the error refusing it."""
        if self.open_access:
            return Caller(DEFAULT_TENANT, frozenset(Role))
        caller = self.callers.get(bearer(authorization))
        if caller is None:
            return KairosError(
                kind=ErrorKind.UNAUTHENTICATED,
                code=RefusalCode.UNAUTHENTICATED,
                message="missing or unknown token: send metadata 'authorization: Bearer <token>'",
            )
        if role not in caller.roles:
            return KairosError(
                kind=ErrorKind.PERMISSION_DENIED,
                code=RefusalCode.FORBIDDEN_TOKEN_ROLE,
                message=f"this token's role may not call the {role.value} API",
            )
        return caller


def bearer(authorization: str | bytes | None) -> str:
    """The token of an ``authorization: Bearer <token>`` header; empty for anything else."""
    if isinstance(authorization, bytes):
        authorization = authorization.decode(errors="replace")
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def open_access() -> TokenTable:
    """The table of a server without an auth file: one default tenant for everyone."""
    return TokenTable({}, open_access=True)


def load_auth_file(path: Path) -> TokenTable:
    """Read ``[[tokens]]`` entries (token, account, region, role) from a TOML file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AuthFileError(f"{path}: {error}") from None
    entries = document.get("tokens")
    if not isinstance(entries, list) or not entries:
        raise AuthFileError(f"{path}: expected one or more [[tokens]] entries")
    callers: dict[str, Caller] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[tokens]] entry {number}"
        if not isinstance(entry, dict):
            raise AuthFileError(f"{where}: not a table")
        values = {}
        for key in ("token", "account", "region", "role"):
            value = entry.get(key)
            if not isinstance(value, str) or not value:
                raise AuthFileError(f"{where}: '{key}' must be a non-empty string")
            values[key] = value
        try:
            role = Role(values["role"])
        except ValueError:
            raise AuthFileError(f"{where}: role must be 'client' or 'agent'") from None
        if values["token"] in callers:
            raise AuthFileError(f"{where}: duplicate token")
        callers[values["token"]] = Caller(
            Tenant(values["account"], values["region"]), frozenset({role})
        )
    return TokenTable(callers)
