"""The agent as its own process (``python -m agent``): killed, stopped and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import agent
from agent.process import is_alive
from kairos.v1 import common_pb2

from .agent_harness import BOOT_ID, eventually, shell_task
from .scripted_dispatcher import ScriptedDispatcher

REPO = Path(agent.__file__).resolve().parent.parent


@pytest.fixture
async def dispatcher() -> AsyncIterator[ScriptedDispatcher]:
    peer = ScriptedDispatcher()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def boot_id_file(tmp_path: Path) -> Path:
    path = tmp_path / "boot_id"
    path.write_text(BOOT_ID + "\n")
    return path


async def start_agent(
    dispatcher: ScriptedDispatcher,
    tmp_path: Path,
    boot_id_file: Path,
    *flags: str,
    env: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """Start ``python -m agent`` on the test's state dir, logging to ``agent.log``.

    ``env``: variables added to the agent's environment.
    """
    log = (tmp_path / "agent.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent",
            "--server",
            dispatcher.address,
            "--instance-id",
            "i-proc-1",
            "--state-dir",
            str(tmp_path / "state"),
            "--boot-id-file",
            str(boot_id_file),
            "--log-level",
            "DEBUG",
            *flags,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
async def test_an_execution_cut_by_the_agents_death_ends_client_restarted(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path, signum: signal.Signals
) -> None:
    pid_file = tmp_path / "script.pid"
    process = await start_agent(dispatcher, tmp_path, boot_id_file)
    try:
        session = await dispatcher.session()
        task = shell_task(f"echo $$ > {pid_file}; echo partial; sleep 300 & wait")
        session.send(task=task)
        await session.expect("ack", task.execution_id)
        output = await session.expect("output", task.execution_id)
        assert output.output.data == b"partial\n"
        script = int(pid_file.read_text())
        process.send_signal(signum)
        exit_code = await process.wait()
        if signum == signal.SIGTERM:
            assert exit_code == 0  # a clean stop, which also kills the running script
            await eventually(lambda: not is_alive(script), "the script to be killed")
        else:
            assert is_alive(script)  # SIGKILL leaves the script running

        process = await start_agent(dispatcher, tmp_path, boot_id_file)
        session = await dispatcher.session()
        await session.expect("hello")
        result = (await session.expect("result", task.execution_id)).result
        assert result.status == common_pb2.INVOCATION_STATUS_ERROR
        assert result.error_code == "ClientRestarted"
        assert result.output == b"partial\n"
        assert result.start_time.seconds > 0
        await eventually(lambda: not is_alive(script), "the leftover script to be killed")

        session.send(task=task)  # redelivered after the restart: not run again
        await session.expect("ack", task.execution_id)
        assert pid_file.read_text() == f"{script}\n"
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
    assert process.returncode == 0, (tmp_path / "agent.log").read_text()


async def test_sigterm_stops_an_agent_still_trying_to_register(tmp_path: Path) -> None:
    # Before, the signal only set an event the agent looked at once registered: one that
    # could not reach its server ran on until SIGKILL.
    code_file = tmp_path / "code"
    code_file.write_text("kac_secret\n")
    code_file.chmod(0o600)
    log_path = tmp_path / "agent.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent",
            "--server", "127.0.0.1:1",
            "--activation-id", "act-1",
            "--activation-code-file", str(code_file),
            "--state-dir", str(tmp_path / "state"),
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )  # fmt: skip
    try:
        await eventually(
            lambda: "retrying" in log_path.read_text(), "a failed registration attempt"
        )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0, log_path.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_missing_instance_id_is_a_clear_error(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "--state-dir",
        str(tmp_path / "state"),
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"--instance-id" in stderr


@pytest.mark.parametrize("way", ["env", "flag"])
async def test_a_token_in_the_environment_or_arguments_leaves_proc_on_re_exec(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path, way: str
) -> None:
    token = "s3cret-agent-token"
    if way == "env":
        process = await start_agent(
            dispatcher, tmp_path, boot_id_file, env={"KAIROS_AGENT_TOKEN": token}
        )
    else:
        process = await start_agent(dispatcher, tmp_path, boot_id_file, "--token", token)
    try:
        session = await dispatcher.session()
        await session.expect("hello")
        assert session.metadata["authorization"] == f"Bearer {token}"
        proc = Path(f"/proc/{process.pid}")
        assert token.encode() not in (proc / "environ").read_bytes()
        arguments = (proc / "cmdline").read_bytes().split(b"\0")
        assert token.encode() not in b" ".join(arguments)
        assert b"--instance-id" in arguments  # the rest of the command line is kept
    finally:
        process.terminate()
        await process.wait()
    log = (tmp_path / "agent.log").read_text()
    assert "use --token-file instead" in log
    assert token not in log


@pytest.mark.parametrize(
    ("content", "flags", "message"),
    [
        ("\n", ["--token-file", "{file}"], b"is empty"),
        (None, ["--token-file", "{file}"], b"cannot read token file"),
        ("t", ["--token-file", "{file}", "--token", "t"], b"give the agent token one way"),
    ],
)
async def test_an_unusable_token_is_a_start_up_error(
    tmp_path: Path, content: str | None, flags: list[str], message: bytes
) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "--instance-id",
        "i-proc-1",
        "--state-dir",
        str(tmp_path / "state"),
        *(flag.format(file=token_file) for flag in flags),
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert message in stderr
    assert not (tmp_path / "state").exists()  # refused before anything else


async def test_a_bad_tag_is_a_usage_error(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "--instance-id",
        "i-proc-1",
        "--state-dir",
        str(tmp_path / "state"),
        "--tag",
        "env=prod",
        "--tag",
        "aliyun:x=1",
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"--tag[1].key starts with acs: or aliyun" in stderr
    assert not (tmp_path / "state").exists()
