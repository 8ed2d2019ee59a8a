"""The agent's side of registration: the credential file, and the flags that go together."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.registration import Credential, load_credential, save_credential
from scheduler.cli.main import main


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
