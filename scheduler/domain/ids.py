"""Resource identifiers: a kind prefix and random hex, as in Cloud Assistant."""

from __future__ import annotations

import secrets


def command_id() -> str:
    """A new command id, ``c-`` and 24 hex digits."""
    return "c-" + secrets.token_hex(12)


def invoke_id() -> str:
    """A new invocation id, ``t-`` and 24 hex digits."""
    return "t-" + secrets.token_hex(12)


def file_task_id() -> str:
    """A new file task's invocation id (SendFile), ``f-`` and 24 hex digits."""
    return "f-" + secrets.token_hex(12)


def execution_id() -> str:
    """A new execution id, ``e-`` and 24 hex digits."""
    return "e-" + secrets.token_hex(12)


def activation_id() -> str:
    """A new activation id, ``act-`` and 24 hex digits."""
    return "act-" + secrets.token_hex(12)


def managed_instance_id() -> str:
    """A new managed instance id, ``mi-`` and 24 hex digits (Cloud Assistant's form)."""
    return "mi-" + secrets.token_hex(12)
