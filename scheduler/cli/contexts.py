"""The operator's config file: named contexts (server, token file, CA, TLS name) and the
current one, like kubectl's kubeconfig.

``$XDG_CONFIG_HOME/kairos/config.toml`` (``~/.config`` without it)::

    current-context = "prod"

    [contexts."prod"]
    server = "kairos.example.com:443"
    token-file = "/home/me/.config/kairos/prod.token"
    ca-file = "/etc/kairos/ca.pem"
    tls-server-name = "kairos.example.com"

A context's files (``token-file``, ``ca-file``) are stored as absolute paths, made so
against the working directory of ``kairos config set-context``: the context then works
from any directory. A relative one (written by hand, or by an older ``kairos``) is
taken from the config file's directory, wherever the command runs.

Read with ``tomllib``; written here (TOML has no writer in the standard library),
only ever as this flat shape of strings, with mode 0600 and an atomic rename, so a
crash never leaves half a file. It names the token's file, never a token.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from scheduler.cli.errors import CliError, UsageError


@dataclass(frozen=True, kw_only=True)
class Context:
    """Where one Kairos server is and how to talk to it; empty fields are not set."""

    server: str = ""
    token_file: str = ""
    ca_file: str = ""
    tls_server_name: str = ""


KEYS = {f.name: f.name.replace("_", "-") for f in fields(Context)}
"""Each field's key in the file (``token_file`` is ``token-file``)."""

FILE_FIELDS = ("token_file", "ca_file")
"""The fields naming a file, absolute paths once ``anchored``."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole file."""

    current: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/kairos/config.toml``, ``~/.config/kairos/config.toml`` without it."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kairos" / "config.toml"


def anchored(file: str, base: Path) -> str:
    """The absolute path of ``file``: ``~`` expanded, a relative one taken from ``base``;
    ``""`` (not set) stays ``""``."""
    return str((base / Path(file).expanduser()).absolute()) if file else ""


def with_files_from(context: Context, base: Path) -> Context:
    """``context`` with each file it names ``anchored`` at ``base``."""
    return replace(
        context, **{name: anchored(getattr(context, name), base) for name in FILE_FIELDS}
    )


def load(path: Path) -> Config:
    """The config at ``path``; an empty one when there is no file."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        return Config()
    except OSError as error:
        raise UsageError(f"config file {path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path}: not valid TOML ({error})") from None
    current = document.get("current-context", "")
    tables = document.get("contexts", {})
    if not isinstance(current, str) or not isinstance(tables, dict):
        raise UsageError(
            f"config file {path}: current-context must be a string and contexts a table"
        )
    return Config(
        current=current,
        contexts={name: _context(path, name, table) for name, table in tables.items()},
    )


def save(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` (mode 0600), replacing the file at once.

    A directory that cannot be made or written (a read-only home, a dangling symlink)
    is one `error: cannot write PATH: REASON` line, exit 1.
    """
    try:
        _replace(path, _render(config))
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror}") from None


def _render(config: Config) -> str:
    lines = []
    if config.current:
        lines += [f"current-context = {_string(config.current)}", ""]
    for name, context in sorted(config.contexts.items()):
        lines.append(f"[contexts.{_string(name)}]")
        for attribute, key in KEYS.items():
            value = getattr(context, attribute)
            if value:
                lines.append(f"{key} = {_string(value)}")
        lines.append("")
    return "\n".join(lines)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to a new file next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600: nobody else reads it, even before the rename.
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _context(path: Path, name: str, table: object) -> Context:
    if not isinstance(table, dict):
        raise UsageError(f"config file {path}: context {name!r} must be a table")
    unknown = sorted(set(table) - set(KEYS.values()))
    if unknown:
        raise UsageError(
            f"config file {path}: context {name!r} has unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(KEYS.values())})"
        )
    values = {attribute: table.get(key, "") for attribute, key in KEYS.items()}
    if not all(isinstance(value, str) for value in values.values()):
        raise UsageError(f"config file {path}: context {name!r}: every value must be a string")
    return Context(**values)


def _string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = []
    for character in text:
        if character in ('"', "\\"):
            escaped.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04x}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'
