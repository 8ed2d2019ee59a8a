"""A script's content as the API wants it: text, or Base64 with its encoding."""

import base64
import sys
from dataclasses import dataclass

from scheduler.cli.errors import CliError, UsageError


@dataclass(frozen=True)
class Script:
    """Content for `command_content` and the `ContentEncoding` value name that goes with it."""

    content: str
    encoding: str


def load_script(*, text: str | None, path: str | None, is_base64: bool) -> Script:
    """The script given inline or in a file (`-` is stdin), exactly one of them.

    With `is_base64` the content is already Base64 and is sent as such. A file that
    is not UTF-8 is sent Base64-encoded, since `command_content` is a proto string.
    """
    if (text is None) == (path is None):
        raise UsageError("give the script either inline (after `--`) or with --file")
    if text is not None:
        return _script(text.encode(), is_base64)
    assert path is not None
    return _script(_read(path), is_base64)


def _script(data: bytes, is_base64: bool) -> Script:
    if is_base64:
        try:
            return Script(data.decode("ascii").strip(), "CONTENT_ENCODING_BASE64")
        except UnicodeDecodeError:
            raise UsageError("--base64 content is not Base64 text") from None
    try:
        return Script(data.decode("utf-8"), "CONTENT_ENCODING_PLAIN_TEXT")
    except UnicodeDecodeError:
        return Script(base64.b64encode(data).decode("ascii"), "CONTENT_ENCODING_BASE64")


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
