"""The agent's secrets: read from a file, checked, and their flags taken out of argv."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.handover import ACTIVATION_CODE, TOKEN, without_flag
from agent.tokens import TokenError, TokenFile, read_secret_file
from scheduler.cli.main import main
from scheduler.domain.credentials import MAX_TOKEN_BYTES


def test_the_trailing_newline_is_not_part_of_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret-token\r\n")
    assert read_secret_file(path) == "s3cret-token"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b" \n", "is empty"),
        (b"two words\n", "only printable ASCII, without spaces"),
        ("d\u00e9j\u00e0-vu".encode(), "only printable ASCII, without spaces"),
        (b"x" * (MAX_TOKEN_BYTES + 1), f"more than {MAX_TOKEN_BYTES} bytes"),
    ],
)
def test_an_unusable_token_file_is_refused_without_showing_it(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(TokenError, match=message) as refused:
        TokenFile(path)
    assert str(path) in str(refused.value)
    for word in content.decode(errors="replace").split():
        assert word not in str(refused.value)


def test_a_missing_token_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match=r"cannot read token file .*: No such file"):
        TokenFile(tmp_path / "nowhere")


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True)])
def test_a_token_file_open_to_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, warned: bool
) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret-token")
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="agent.tokens"):
        TokenFile(path)
    assert ("open to group or others" in caplog.text) == warned
    assert "s3cret-token" not in caplog.text


def test_a_token_file_swapped_through_a_symbolic_link_is_followed(tmp_path: Path) -> None:
    # How a Kubernetes Secret volume rotates: ..data points at a new timestamped directory.
    for version, token in (("v1", "first-token"), ("v2", "second-token")):
        (tmp_path / version).mkdir()
        (tmp_path / version / "token").write_text(token)
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "token").symlink_to("..data/token")
    source = TokenFile(tmp_path / "token")
    assert source.current() == "first-token"
    (tmp_path / "..data_tmp").symlink_to("v2")
    (tmp_path / "..data_tmp").rename(tmp_path / "..data")
    assert source.current() == "second-token"


def test_a_token_file_that_disappears_keeps_the_last_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret-token")
    source = TokenFile(path)
    path.unlink()
    assert source.current() == "s3cret-token"
    assert "connecting with the token read before" in caplog.text
    assert "s3cret-token" not in caplog.text


@pytest.mark.parametrize(
    ("flag", "argv", "kept"),
    [
        (TOKEN.flag, ["agent", "--token", "t", "--name", "n"], ["agent", "--name", "n"]),
        (TOKEN.flag, ["agent", "--token=t", "--name", "n"], ["agent", "--name", "n"]),
        (TOKEN.flag, ["agent", "--token-file", "f"], ["agent", "--token-file", "f"]),
        (TOKEN.flag, ["agent", "--name", "--token-x"], ["agent", "--name", "--token-x"]),
        (
            ACTIVATION_CODE.flag,
            ["agent", "--activation-id", "a", "--activation-code", "c", "--token", "t"],
            ["agent", "--activation-id", "a", "--token", "t"],
        ),
        (
            ACTIVATION_CODE.flag,
            ["agent", "--activation-code=c", "--activation-code-file", "f"],
            ["agent", "--activation-code-file", "f"],
        ),
    ],
)
def test_without_flag(flag: str, argv: list[str], kept: list[str]) -> None:
    assert without_flag(argv, flag) == kept


@pytest.mark.parametrize(
    "prefix", ["--to", "--tok", "--toke", "--activation-c", "--activation-co", "--activation-cod"]
)
def test_no_abbreviation_of_a_secrets_flag_is_accepted(
    prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # without_flag relies on it: an abbreviated flag would stay in /proc/PID/cmdline.
    assert main(["agent", "--instance-id", "i-1", prefix, "s3cret-token"]) == 2
    assert "ambiguous option" in capsys.readouterr().err


def test_a_secret_given_two_ways_is_refused_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code_file = tmp_path / "code"
    code_file.write_text("s3cret-code")
    argv = ["agent", "--activation-id", "act-1", "--activation-code-file", str(code_file)]
    assert main([*argv, "--activation-code", "s3cret-code"]) == 2
    err = capsys.readouterr().err
    assert "give the activation code one way: --activation-code-file" in err
    assert "s3cret-code" not in err


def test_a_missing_activation_code_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["agent", "--activation-id", "act-1", "--activation-code-file", str(missing)]) == 2
    assert f"cannot read activation code file {missing}: No such file" in capsys.readouterr().err
