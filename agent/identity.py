"""What the agent tells the dispatcher about its instance: boot id, time zone, OS."""

from __future__ import annotations

import logging
import os
import sys
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

from kairos.v1 import common_pb2

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
LOCALTIME = Path("/etc/localtime")
_ZONEINFO_MARKER = "zoneinfo/"

log = logging.getLogger(__name__)


def read_boot_id(path: Path = BOOT_ID_FILE) -> str:
    """Return the boot id stored in ``path``, or "" when it cannot be read.

    A missing boot id only disables boot detection; it must not stop the agent.
    """
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def detect_time_zone(
    configured: str | None, env: Mapping[str, str], localtime: Path = LOCALTIME
) -> str:
    """Return the instance's IANA time zone name.

    Order: the configured value, then ``TZ`` (``:Area/City`` accepted), then the
    target of the ``/etc/localtime`` symlink, then "UTC". A name this agent cannot
    load as a zone itself (unknown, or a directory of the zone database such as
    ``Etc``) becomes "UTC", with a warning.
    """
    name = _detect(configured, env, localtime)
    if not _loadable(name):
        log.warning("time zone %r cannot be loaded; reporting UTC", name)
        return "UTC"
    return name


def _loadable(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, IsADirectoryError, ValueError, …
        return False
    return True


def _detect(configured: str | None, env: Mapping[str, str], localtime: Path) -> str:
    if configured:
        return configured
    tz = env.get("TZ", "").removeprefix(":")
    if tz and not tz.startswith("/"):
        return tz
    if tz:
        # TZ may name a zoneinfo file instead of a zone.
        zone = _zone_from_path(tz)
        if zone:
            return zone
    try:
        target = os.readlink(localtime)
    except OSError:
        return "UTC"
    return _zone_from_path(target) or "UTC"


def _zone_from_path(path: str) -> str:
    """``/usr/share/zoneinfo/Europe/Paris`` → ``Europe/Paris``; "" when not a zoneinfo path."""
    index = path.rfind(_ZONEINFO_MARKER)
    if index < 0:
        return ""
    zone = path[index + len(_ZONEINFO_MARKER) :]
    # posix/ and right/ are variants of the same zones (without or with leap seconds).
    return zone.removeprefix("posix/").removeprefix("right/")


def os_type(platform: str = sys.platform) -> common_pb2.OsType:
    """Return the OS type of ``platform`` (a ``sys.platform`` value)."""
    if platform.startswith("linux"):
        return common_pb2.OS_TYPE_LINUX
    if platform.startswith("freebsd"):
        return common_pb2.OS_TYPE_FREEBSD
    if platform.startswith(("win32", "cygwin")):
        return common_pb2.OS_TYPE_WINDOWS
    return common_pb2.OS_TYPE_UNSPECIFIED
