"""Bearer tokens: the auth file, and turning a token into a caller."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import token_problem
from scheduler.domain.enums import Role
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import DEFAULT_TENANT, Caller, Tenant, tenant_id_problem


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


ENTRY_KEYS = ("token", "account", "region", "role")
"""The keys of a ``[[tokens]]`` entry, each a string; no other key is allowed."""


def load_auth_file(path: Path) -> TokenTable:
    """Read ``[[tokens]]`` entries (token, account, region, role) from a TOML file.

    An entry that could not work as written (a token no header can carry as it is, an
    account or region no table can hold, a misspelt key) stops the start: found later it
    would be a token that never authenticates, or a tenant whose every write fails.
    Messages name the entry by its number, never by its token.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AuthFileError(f"{path}: {error}") from None
    entries = document.get("tokens")
    if not isinstance(entries, list) or not entries:
        raise AuthFileError(f"{path}: expected one or more [[tokens]] entries")
    callers: dict[str, Caller] = {}
    entry_of: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[tokens]] entry {number}"
        if not isinstance(entry, dict):
            raise AuthFileError(f"{where}: not a table")
        values = _entry_values(entry, where)
        try:
            role = Role(values["role"])
        except ValueError:
            raise AuthFileError(f"{where}: role must be 'client' or 'agent'") from None
        token = values["token"]
        if token in entry_of:
            # Even with the same tenant and role: one of them is a mistake.
            raise AuthFileError(f"{where}: duplicate token (the token of entry {entry_of[token]})")
        entry_of[token] = number
        callers[token] = Caller(Tenant(values["account"], values["region"]), frozenset({role}))
    return TokenTable(callers)


def _entry_values(entry: dict[str, object], where: str) -> dict[str, str]:
    """The strings of an entry's keys, each checked; ``where`` starts each error."""
    for key in entry:
        # Before the missing keys: a misspelt key ('acount') explains the missing one.
        if key not in ENTRY_KEYS:
            raise AuthFileError(
                f"{where}: unknown key {key!r}; the keys are {', '.join(ENTRY_KEYS)}"
            )
    values: dict[str, str] = {}
    for key in ENTRY_KEYS:
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise AuthFileError(f"{where}: '{key}' must be a non-empty string")
        values[key] = value
    problem = token_problem(values["token"].encode())
    if problem is not None:
        raise AuthFileError(f"{where}: the token {problem}")
    for key in ("account", "region"):
        problem = tenant_id_problem(values[key])
        if problem is not None:
            raise AuthFileError(f"{where}: '{key}' {problem}")
    return values
