"""Bearer tokens: the auth file and authenticating a caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.domain.credentials import MAX_TOKEN_BYTES
from scheduler.domain.enums import Role
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import DEFAULT_TENANT, MAX_TENANT_ID, Caller, Tenant
from scheduler.rpc.auth import AuthFileError, TokenTable, load_auth_file, open_access

GOOD = """
[[tokens]]
token = "client-secret"
account = "123456789"
region = "cn-hangzhou"
role = "client"

[[tokens]]
token = "agent-secret"
account = "123456789"
region = "cn-hangzhou"
role = "agent"

[[tokens]]
token = "other-client"
account = "987654321"
region = "cn-beijing"
role = "client"
"""

ENTRY = 'token = "t{n}"\naccount = "a"\nregion = "r"\nrole = "client"\n'


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "auth.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(AuthFileError) as info:
        load_auth_file(path)
    message = str(info.value)
    assert str(path) in message
    return message


# --- the file ------------------------------------------------------------------------------


def test_good_file(tmp_path: Path) -> None:
    table = load_auth_file(write(tmp_path, GOOD))
    assert table.open_access is False
    assert table.callers == {
        "client-secret": Caller(Tenant("123456789", "cn-hangzhou"), frozenset({Role.CLIENT})),
        "agent-secret": Caller(Tenant("123456789", "cn-hangzhou"), frozenset({Role.AGENT})),
        "other-client": Caller(Tenant("987654321", "cn-beijing"), frozenset({Role.CLIENT})),
    }


def test_missing_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / "nowhere.toml")
    assert "No such file" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    load_error(tmp_path)


def test_bad_toml(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "[[tokens]]\ntoken = \n"))
    assert "line 2" in message


def test_not_utf8(tmp_path: Path) -> None:
    load_error(write(tmp_path, b'[[tokens]]\ntoken = "\xff\xfe"\n'))


@pytest.mark.parametrize(
    "text",
    ["", "# nothing\n", "tokens = []\n", 'tokens = "x"\n', '[tokens]\ntoken = "t"\n'],
)
def test_no_entries(tmp_path: Path, text: str) -> None:
    assert "[[tokens]]" in load_error(write(tmp_path, text))


def test_entry_that_is_not_a_table(tmp_path: Path) -> None:
    text = 'tokens = [{token = "t", account = "a", region = "r", role = "client"}, 3]\n'
    assert "entry 2: not a table" in load_error(write(tmp_path, text))


@pytest.mark.parametrize("key", ["token", "account", "region", "role"])
def test_missing_key_names_the_entry_and_key(tmp_path: Path, key: str) -> None:
    second = "\n".join(line for line in ENTRY.format(n=2).splitlines() if not line.startswith(key))
    text = f"[[tokens]]\n{ENTRY.format(n=1)}\n[[tokens]]\n{second}\n"
    message = load_error(write(tmp_path, text))
    assert "[[tokens]] entry 2" in message
    assert f"'{key}'" in message


@pytest.mark.parametrize("value", ['""', "42", "true", '["client"]'])
def test_empty_or_non_string_value(tmp_path: Path, value: str) -> None:
    text = f'[[tokens]]\ntoken = "t"\naccount = {value}\nregion = "r"\nrole = "client"\n'
    message = load_error(write(tmp_path, text))
    assert "entry 1" in message
    assert "'account'" in message


@pytest.mark.parametrize("role", ["admin", "Client", "AGENT", "clients"])
def test_bad_role(tmp_path: Path, role: str) -> None:
    text = f"[[tokens]]\n{ENTRY.format(n=1)}\n[[tokens]]\n{ENTRY.format(n=2)}".replace(
        'role = "client"\n', f'role = "{role}"\n'
    )
    message = load_error(write(tmp_path, text))
    assert "[[tokens]] entry 1" in message
    assert "'client'" in message
    assert "'agent'" in message


def test_duplicate_token(tmp_path: Path) -> None:
    text = "".join(f"[[tokens]]\n{ENTRY.format(n=n)}\n" for n in (1, 2, 1))
    message = load_error(write(tmp_path, text))
    assert "[[tokens]] entry 3" in message
    assert "duplicate token (the token of entry 1)" in message
    assert "t1" not in message


def test_duplicate_token_across_roles_is_refused(tmp_path: Path) -> None:
    agent = ENTRY.format(n=1).replace('"client"', '"agent"')
    text = f"[[tokens]]\n{ENTRY.format(n=1)}\n[[tokens]]\n{agent}"
    assert "duplicate token" in load_error(write(tmp_path, text))


def entry(token: str = "t", account: str = "a", region: str = "r", extra: str = "") -> str:
    """A TOML ``[[tokens]]`` entry; the values are TOML basic strings (escapes allowed)."""
    return (
        f'[[tokens]]\ntoken = "{token}"\naccount = "{account}"\nregion = "{region}"\n'
        f'role = "client"\n{extra}'
    )


@pytest.mark.parametrize("key", ["acount", "roles", "Token", "tenant"])
def test_an_unknown_key_is_refused_naming_it(tmp_path: Path, key: str) -> None:
    text = entry(token="t1") + entry(token="t2", extra=f'{key} = "x"\n')
    message = load_error(write(tmp_path, text))
    assert "[[tokens]] entry 2" in message
    assert f"unknown key '{key}'" in message


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (" spaced-secret", "without spaces"),  # the server strips it off the header
        ("spaced-secret ", "without spaces"),
        ("two secret-words", "without spaces"),
        ("tab\\tsecret", "without spaces"),
        ("nul\\u0000secret", "without spaces"),
        ("d\\u00e9j\\u00e0-secret", "only printable ASCII"),  # metadata cannot carry it
        ("x" * (MAX_TOKEN_BYTES + 1), f"more than {MAX_TOKEN_BYTES} bytes"),
    ],
)
def test_a_token_no_client_can_send_is_refused_without_showing_it(
    tmp_path: Path, token: str, why: str
) -> None:
    text = entry(token="fine") + entry(token=token)
    message = load_error(write(tmp_path, text))
    assert "[[tokens]] entry 2: the token" in message
    assert why in message
    assert "secret" not in message
    assert "x" * 100 not in message


@pytest.mark.parametrize("key", ["account", "region"])
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("A" * (MAX_TENANT_ID + 1), f"is {MAX_TENANT_ID + 1} characters; the limit is 64"),
        ("   ", "is blank"),
        ("\\t", "is blank"),
        ("nul\\u0000id", "holds a control character"),
        ("line\\nbreak", "holds a control character"),
        ("c1\\u0085id", "holds a control character"),
        ("del\\u007fid", "holds a control character"),
    ],
)
def test_an_account_or_region_no_table_can_hold_is_refused(
    tmp_path: Path, key: str, value: str, why: str
) -> None:
    text = entry(token="t1") + entry(token="t2", **{key: value})
    message = load_error(write(tmp_path, text))
    assert f"[[tokens]] entry 2: '{key}' {why}" in message


def test_the_longest_accepted_values(tmp_path: Path) -> None:
    longest = "\u8d26" * MAX_TENANT_ID  # characters, not bytes, as the columns count them
    token = "~" * MAX_TOKEN_BYTES
    table = load_auth_file(write(tmp_path, entry(token=token, account=longest, region=longest)))
    assert table.callers[token].tenant == Tenant(longest, longest)
    assert isinstance(table.authenticate(f"Bearer {token}", Role.CLIENT), Caller)


# --- authenticating ------------------------------------------------------------------------


@pytest.fixture
def table(tmp_path: Path) -> TokenTable:
    return load_auth_file(write(tmp_path, GOOD))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer client-secret",
        "bearer client-secret",
        "BEARER client-secret",
        "Bearer  client-secret ",
        b"Bearer client-secret",
    ],
)
def test_known_token(table: TokenTable, header: str | bytes) -> None:
    caller = table.authenticate(header, Role.CLIENT)
    assert caller == Caller(Tenant("123456789", "cn-hangzhou"), frozenset({Role.CLIENT}))


def test_tokens_map_to_their_own_tenant(table: TokenTable) -> None:
    caller = table.authenticate("Bearer other-client", Role.CLIENT)
    assert isinstance(caller, Caller)
    assert caller.tenant == Tenant("987654321", "cn-beijing")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        b"",
        "client-secret",
        "Bearer",
        "Bearer ",
        "Basic client-secret",
        "Token client-secret",
        "Bearer client-secret2",
        "Bearer Client-Secret",
        "Bearerclient-secret",
        b"Bearer \xff",
    ],
)
def test_missing_or_unknown_token_is_unauthenticated(
    table: TokenTable, header: str | bytes | None
) -> None:
    result = table.authenticate(header, Role.CLIENT)
    assert isinstance(result, KairosError)
    assert result.kind is ErrorKind.UNAUTHENTICATED
    assert result.code == "Unauthenticated"
    assert "Bearer" in result.message
    assert "client-secret" not in result.message


@pytest.mark.parametrize(
    ("token", "role"),
    [("client-secret", Role.AGENT), ("agent-secret", Role.CLIENT)],
)
def test_wrong_role_is_permission_denied(table: TokenTable, token: str, role: Role) -> None:
    result = table.authenticate(f"Bearer {token}", role)
    assert isinstance(result, KairosError)
    assert result.kind is ErrorKind.PERMISSION_DENIED
    assert result.code == "Forbidden.TokenRole"
    assert role.value in result.message


def test_agent_token_for_agent_api(table: TokenTable) -> None:
    caller = table.authenticate("Bearer agent-secret", Role.AGENT)
    assert isinstance(caller, Caller)
    assert caller.roles == frozenset({Role.AGENT})


@pytest.mark.parametrize("header", [None, "", "Bearer anything", "garbage"])
@pytest.mark.parametrize("role", list(Role))
def test_open_access_lets_everyone_in_as_the_default_tenant(header: str | None, role: Role) -> None:
    caller = open_access().authenticate(header, role)
    assert caller == Caller(DEFAULT_TENANT, frozenset(Role))


def test_an_empty_table_refuses_everyone() -> None:
    result = TokenTable({}).authenticate("Bearer x", Role.CLIENT)
    assert isinstance(result, KairosError)
    assert result.kind is ErrorKind.UNAUTHENTICATED
