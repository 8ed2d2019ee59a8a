"""Power-off and reboot requested by a script's exit code, through the power hook.

A script exiting 193 asks for a power-off and 194 for a reboot (SPEC §6). The
agent never powers the machine off itself: it runs the operator's hook,
``HOOK poweroff`` or ``HOOK reboot``, once the dispatcher has stored the result.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import shlex

from kairos.v1 import agent_pb2, common_pb2

log = logging.getLogger(__name__)


class PowerAction(enum.StrEnum):
    """What a script asked the instance to do after its result is reported."""

    POWER_OFF = "poweroff"
    """Exit code 193: shut the instance down."""
    REBOOT = "reboot"
    """Exit code 194: restart the instance."""


_EXIT_CODES = {193: PowerAction.POWER_OFF, 194: PowerAction.REBOOT}


def power_action_of(result: agent_pb2.ExecutionResult) -> PowerAction | None:
    """Return the action a result asks for: a script that exited 193 or 194 on its own."""
    if result.status != common_pb2.INVOCATION_STATUS_FAILED:
        return None
    return _EXIT_CODES.get(result.exit_code)


class PowerHook:
    """Runs ``COMMAND ACTION`` for a power action; with no command only logs it."""

    def __init__(self, command: str | None) -> None:
        self._argv = shlex.split(command) if command else []

    async def perform(self, action: PowerAction, execution_id: str) -> None:
        """Run the hook for ``action`` and wait for it; failures are logged, never raised."""
        if not self._argv:
            log.warning(
                "execution %s asked for %s; no --power-hook configured, doing nothing",
                execution_id,
                action,
            )
            return
        log.warning("execution %s asked for %s; running the power hook", execution_id, action)
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                action.value,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await process.communicate()
        except OSError as error:
            log.error("power hook %s could not start: %s", self._argv[0], error)
            return
        if process.returncode == 0:
            log.info("power hook %s %s done", self._argv[0], action.value)
        else:
            log.error(
                "power hook %s %s exited with %s: %s",
                self._argv[0],
                action.value,
                process.returncode,
                output.decode(errors="replace").strip(),
            )
