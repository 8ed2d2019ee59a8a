"""The agent's side of registration: the credential file, and the flags that go together."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from agent.registration import (
    CREDENTIAL_FILE,
    REGISTRATION_FILE,
    Activation,
    Credential,
    CredentialError,
    forget_registration,
    load_credential,
    pending_registration,
    register_and_keep,
    save_credential,
)
from scheduler.cli.main import main
from scheduler.local import free_port
from scheduler.local.processes import kairos_command

GOOD = {"instance_id": "mi-0123456789abcdef01234567", "instance_name": "web", "credential": "kmi_x"}
DAMAGED: list[tuple[bytes, str]] = [
    (b'{"instance_id": "mi-1", ', "not JSON (Expecting property name enclosed in double quotes"),
    (b"\xff\xfe\x00{", "not JSON ("),
    (b"[" * 100_000, "not JSON (maximum recursion depth exceeded"),
    (b'["mi-1", "web", "kmi_x"]', "no JSON object"),
    (json.dumps({**GOOD, "credential": None}).encode(), "credential is not a string"),
    (json.dumps({"instance_id": "mi-1", "credential": "kmi_x"}).encode(), "no instance_name"),
    (json.dumps({**GOOD, "instance_id": 7}).encode(), "instance_id is not a string"),
    (json.dumps({**GOOD, "instance_id": " "}).encode(), "instance_id is empty"),
    (json.dumps({**GOOD, "instance_name": "\ud800"}).encode(), "instance_name is not Unicode"),
    # What a gRPC header cannot carry: sent as `authorization: Bearer`, every Connect failed.
    (
        json.dumps({**GOOD, "credential": "kmi_\u00e9t\u00e9"}).encode(),
        "the credential may hold only printable ASCII, without spaces",
    ),
    (
        json.dumps({**GOOD, "credential": "kmi_a\nb"}).encode(),
        "the credential may hold only printable ASCII, without spaces",
    ),
    (json.dumps({**GOOD, "credential": ""}).encode(), "the credential is empty"),
    (
        json.dumps({**GOOD, "credential": "k" * 5000}).encode(),
        "the credential holds more than 4096 bytes",
    ),
]


def test_the_credential_is_kept_for_this_user_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    assert load_credential(state_dir) is None
    kept = Credential(instance_id="mi-1", instance_name="web", credential="kmi_secret")
    save_credential(state_dir, kept)
    assert load_credential(state_dir) == kept
    assert stat.S_IMODE((state_dir / "credential.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in state_dir.iterdir()) == ["credential.json"]
    replaced = Credential(instance_id="mi-2", instance_name="", credential="kmi_other")
    save_credential(state_dir, replaced)
    assert load_credential(state_dir) == replaced
    assert "kmi_other" not in repr(replaced)


def test_a_registration_keeps_its_id_until_it_is_forgotten(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = pending_registration(state_dir, "act-1")
    # Kept before it is used: a restart (the same call again) sends the same one.
    assert pending_registration(state_dir, "act-1") == first
    assert 1 <= len(first) <= 64 and first.isascii() and first.isprintable() and " " not in first
    path = state_dir / REGISTRATION_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"activation_id": "act-1", "registration_id": first}
    # Another activation: that registration made nothing under this one.
    other = pending_registration(state_dir, "act-2")
    assert other != first
    assert pending_registration(state_dir, "act-2") == other
    forget_registration(state_dir)
    assert sorted(p.name for p in state_dir.iterdir()) == []
    assert pending_registration(state_dir, "act-2") not in (first, other)
    forget_registration(state_dir)
    forget_registration(state_dir)  # none to forget: nothing to do


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"activation_id": "act-1"}', b"\xff", b"[" * 100_000]
)
def test_a_registration_file_this_agent_did_not_write_starts_over(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / REGISTRATION_FILE).write_bytes(content)
    registration_id = pending_registration(tmp_path, "act-1")
    assert pending_registration(tmp_path, "act-1") == registration_id


async def test_a_state_directory_that_cannot_be_written_stops_before_registering(
    tmp_path: Path,
) -> None:
    # A file where the directory should be: root (as these tests may run) writes any
    # directory whatever its mode.
    state_dir = tmp_path / "state"
    state_dir.write_text("")
    activation = Activation(activation_id="act-1", code="code")
    unreachable = (f"127.0.0.1:{free_port()}",)
    async with asyncio.timeout(30):  # registering would retry the unreachable server forever
        with pytest.raises(OSError):
            await register_and_keep(state_dir, unreachable, activation)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--activation-id", "act-1"], "--activation-id and --activation-code (or its file) go"),
        (["--activation-code-file", "CODE"], "--activation-id and --activation-code (or its file)"),
        (
            ["--instance-id", "i-1", "--activation-id", "act-1", "--activation-code-file", "CODE"],
            "--instance-id and --activation-id exclude each other",
        ),
        ([], "--instance-id (or KAIROS_INSTANCE_ID) is required, or --activation-id"),
    ],
)
def test_flags_that_cannot_work_are_usage_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    needle: str,
) -> None:
    # The code from a file: given as --activation-code, main() would re-execute pytest.
    code_file = tmp_path / "code"
    code_file.write_text("s3cret-code")
    for name in (
        "KAIROS_INSTANCE_ID",
        "KAIROS_ACTIVATION_ID",
        "KAIROS_ACTIVATION_CODE",
        "KAIROS_ACTIVATION_CODE_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    argv = [str(code_file) if flag == "CODE" else flag for flag in flags]
    assert main(["agent", "--state-dir", str(tmp_path / "state"), *argv]) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(("content", "reason"), DAMAGED)
def test_a_damaged_credential_file_says_what_is_wrong(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / CREDENTIAL_FILE).write_bytes(content)
    with pytest.raises(CredentialError) as raised:
        load_credential(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"credential file {tmp_path / CREDENTIAL_FILE}: {reason}")
    assert message.endswith("; restore it, or delete it to register this machine again")
    assert "\n" not in message and "kmi_" not in message


def test_a_credential_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    # A directory: root (as these tests may run) reads any file whatever its mode.
    (tmp_path / CREDENTIAL_FILE).mkdir()
    with pytest.raises(CredentialError) as raised:
        load_credential(tmp_path)
    assert str(raised.value) == (
        f"cannot read credential file {tmp_path / CREDENTIAL_FILE}: Is a directory"
    )


@pytest.mark.parametrize("registering", [False, True], ids=["managed", "with-activation"])
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not JSON (Expecting property name enclosed in double quotes: line 1"),
        (json.dumps({**GOOD, "credential": "kmi_\u00e9"}).encode(), "the credential may"),
    ],
)
def test_an_agent_with_a_damaged_credential_stops_with_one_line(
    tmp_path: Path, content: bytes, reason: str, registering: bool
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / CREDENTIAL_FILE).write_bytes(content)
    code_file = tmp_path / "code"
    code_file.write_text("kac_code")
    code_file.chmod(0o600)
    # Both ways the file is read: at the start (no flags), and when the agent has
    # activation flags and looks for a credential before registering.
    activation = ["--activation-id", "act-1", "--activation-code-file", str(code_file)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    finished = subprocess.run(
        kairos_command(
            [
                "agent",
                "--server",
                "127.0.0.1:1",  # never reached: the agent stops before it connects
                "--state-dir",
                str(state_dir),
                *(activation if registering else []),
            ]
        ),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in finished.stderr
    [line] = finished.stderr.splitlines()
    assert line.startswith(
        f"kairos agent: credential file {state_dir / CREDENTIAL_FILE}: {reason}"
    ), line
    assert line.endswith("; restore it, or delete it to register this machine again")
    assert finished.returncode == 1
