"""Boot id, time zone and OS type reported in Hello."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.identity import detect_time_zone, os_type, read_boot_id
from kairos.v1 import common_pb2


def test_boot_id_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "boot_id"
    path.write_text("9a8b7c6d-1111-2222-3333-444455556666\n")
    assert read_boot_id(path) == "9a8b7c6d-1111-2222-3333-444455556666"


def test_missing_boot_id_is_empty(tmp_path: Path) -> None:
    assert read_boot_id(tmp_path / "missing") == ""


def test_real_boot_id_looks_like_a_uuid() -> None:
    assert len(read_boot_id()) == 36


@pytest.fixture
def localtime(tmp_path: Path) -> Path:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Asia/Shanghai")
    return link


def test_configured_zone_wins(localtime: Path) -> None:
    assert detect_time_zone("Europe/Paris", {"TZ": "UTC"}, localtime) == "Europe/Paris"


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("America/New_York", "America/New_York"),
        (":Europe/Berlin", "Europe/Berlin"),
        ("/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo"),
        (":/usr/share/zoneinfo/Etc/UTC", "Etc/UTC"),
        ("/usr/share/zoneinfo/posix/Europe/Rome", "Europe/Rome"),
    ],
)
def test_tz_environment(localtime: Path, tz: str, expected: str) -> None:
    assert detect_time_zone(None, {"TZ": tz}, localtime) == expected


def test_localtime_symlink(localtime: Path, tmp_path: Path) -> None:
    assert detect_time_zone(None, {}, localtime) == "Asia/Shanghai"
    assert detect_time_zone("", {"TZ": ""}, localtime) == "Asia/Shanghai"
    relative = tmp_path / "relative"
    relative.symlink_to("../usr/share/zoneinfo/right/Asia/Kolkata")
    assert detect_time_zone(None, {}, relative) == "Asia/Kolkata"


def test_utc_when_nothing_is_known(tmp_path: Path) -> None:
    assert detect_time_zone(None, {}, tmp_path / "missing") == "UTC"
    copy = tmp_path / "copied-localtime"
    copy.write_bytes(b"TZif")  # a copied file names no zone
    assert detect_time_zone(None, {}, copy) == "UTC"
    assert detect_time_zone(None, {"TZ": "/etc/some-file"}, copy) == "UTC"


@pytest.mark.parametrize(
    "name", ["Etc", "Europe", "Mars/Olympus_Mons", "../etc/passwd", "Europe/Paris\x00", "x" * 300]
)
def test_a_zone_the_agent_cannot_load_is_reported_as_utc(
    name: str, localtime: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.identity"):
        assert detect_time_zone(name, {}, localtime) == "UTC"
        assert detect_time_zone(None, {"TZ": f":{name}"}, localtime) == "UTC"
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert repr(name) in caplog.records[0].getMessage()


def test_a_localtime_link_to_a_directory_is_reported_as_utc(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Etc")
    assert detect_time_zone(None, {}, link) == "UTC"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", common_pb2.OS_TYPE_LINUX),
        ("freebsd14", common_pb2.OS_TYPE_FREEBSD),
        ("win32", common_pb2.OS_TYPE_WINDOWS),
        ("darwin", common_pb2.OS_TYPE_UNSPECIFIED),
    ],
)
def test_os_type(platform: str, expected: int) -> None:
    assert os_type(platform) == expected
