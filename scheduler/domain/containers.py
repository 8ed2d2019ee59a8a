"""Which container an invocation runs in: the request rules, and the id's runtime prefix.

Cloud Assistant's rules: a container id is 64 hexadecimal characters, optionally
prefixed by the runtime that runs it (``docker://``, ``containerd://``, ``cri-o://``,
as Kubernetes writes ``containerStatuses[].containerID``); a name is a letter or digit
then at most 254 letters, digits, ``.``, ``_`` or ``-``. Only shell scripts run in a
container. Both may be given: the agent then checks that they name one container.
``username`` and ``working_dir`` do not apply inside a container (Cloud Assistant
ignores them there, and so does the agent): the script runs as the container's root
in its root directory.
"""

from __future__ import annotations

import re

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import CommandType
from scheduler.domain.errors import invalid

DOCKER = "docker"
CRI = "cri"
RUNTIMES_BY_PREFIX = {"": DOCKER, "docker": DOCKER, "containerd": CRI, "cri-o": CRI}
"""The runtime each id prefix (without ``://``) goes to; no prefix is Docker's."""

_CONTAINER_ID = re.compile(r"(?:(docker|containerd|cri-o)://)?[0-9a-fA-F]{64}")
_CONTAINER_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,254}")


def split_container_id(container_id: str) -> tuple[str, str]:
    """The runtime prefix (without ``://``, empty when none) and the bare id."""
    prefix, separator, bare = container_id.rpartition("://")
    return (prefix, bare) if separator else ("", container_id)


def check_container(container_id: str, container_name: str, command_type: CommandType) -> None:
    """Refuse a container id or name that breaks Cloud Assistant's rules."""
    if container_id and not _CONTAINER_ID.fullmatch(container_id):
        raise invalid(
            RefusalCode.INVALID_PARAM_CONTAINER_ID,
            "container_id",
            f"container_id {container_id[:80]!r} must be 64 hexadecimal characters, "
            "optionally prefixed by docker://, containerd:// or cri-o://",
        )
    if container_name and not _CONTAINER_NAME.fullmatch(container_name):
        raise invalid(
            RefusalCode.INVALID_PARAM_CONTAINER_NAME,
            "container_name",
            f"container_name {container_name[:80]!r} must be a letter or digit followed by at "
            "most 254 letters, digits, '.', '_' or '-'",
        )
    if (container_id or container_name) and command_type is not CommandType.RUN_SHELL_SCRIPT:
        raise invalid(
            RefusalCode.INVALID_PARAM_CONTAINER,
            "container_id" if container_id else "container_name",
            f"only RunShellScript commands run in a container, not {command_type.value}",
        )
