"""Kairos-UpdatePackages' paths that must not run on this machine for real: the script is
rendered as an agent gets it and run by a real shell, with stand-ins for the package
manager (and ``id``) first on its PATH, so nothing is installed and every path is taken."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scheduler.domain import catalogue

from .test_catalogue import rendered

UPDATE = catalogue.COMMON_COMMANDS["Kairos-UpdatePackages"]
APT_SIMULATION = """Inst libssl3 [3.0.1] (3.0.2 Debian-Security:12/stable-security [amd64])
Inst vim [9.0.1] (9.0.2 Debian:12/stable [amd64])
"""


class Machine:
    """A PATH of stand-ins: each logs its arguments, and answers as told."""

    def __init__(self, root: Path, *, uid: int = 0) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls"
        self.log.touch()
        for tool in ("awk", "cat"):
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
        self.tool("id", f"echo {uid}")

    def tool(self, name: str, body: str = "") -> None:
        path = self.bin / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> {self.log}\n{body}\n')
        path.chmod(0o755)

    def run(self, **parameters: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["/bin/sh"],
            input=rendered(UPDATE, parameters),
            capture_output=True,
            env={"PATH": str(self.bin)},
            check=False,
        )

    def calls(self) -> list[str]:
        """The stand-ins' calls but ``id``'s, in order."""
        return [c for c in self.log.read_text().splitlines() if not c.startswith("id ")]


@pytest.fixture
def dnf(tmp_path: Path) -> Machine:
    machine = Machine(tmp_path)
    # check-update exits 100 when there are updates; needs-restarting -r 1 when a reboot is.
    machine.tool("dnf", 'case "$*" in *check-update*) exit 100 ;; esac')
    machine.tool("needs-restarting", "exit 1")
    return machine


def test_a_needed_reboot_ends_with_exit_194(dnf: Machine) -> None:
    ran = dnf.run(rebootIfNeeded="true")
    assert ran.returncode == 194, ran
    assert b"reboot needed: true" in ran.stdout
    assert b"exiting 194: the agent reboots this machine" in ran.stdout
    assert dnf.calls() == ["dnf -y -q upgrade", "needs-restarting -r"]


def test_without_reboot_if_needed_the_upgrade_just_succeeds(dnf: Machine) -> None:
    ran = dnf.run(securityOnly="true")
    assert ran.returncode == 0, ran
    assert b"reboot needed: true" in ran.stdout
    assert dnf.calls()[0] == "dnf -y -q upgrade --security"


def test_a_dry_run_only_checks(dnf: Machine) -> None:
    ran = dnf.run(rebootIfNeeded="true", dryRun="true")
    assert ran.returncode == 0, ran
    assert b"would upgrade the packages listed above" in ran.stdout
    assert b"dry run: would exit 194" in ran.stdout
    assert dnf.calls()[0] == "dnf -q check-update"


def test_apt_updates_its_lists_and_upgrades(tmp_path: Path) -> None:
    apt = Machine(tmp_path)
    apt.tool("apt-get", f"cat <<'EOF'\n{APT_SIMULATION}EOF")
    ran = apt.run()
    assert ran.returncode == 0, ran
    options = "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
    assert apt.calls() == ["apt-get -q update", f"apt-get -y -q {options} upgrade"]


def test_apt_security_only_upgrades_the_security_archive_s_packages(tmp_path: Path) -> None:
    apt = Machine(tmp_path)
    apt.tool("apt-get", f"cat <<'EOF'\n{APT_SIMULATION}EOF")
    ran = apt.run(securityOnly="true")
    assert ran.returncode == 0, ran
    assert apt.calls()[-1].endswith("install --only-upgrade libssl3")
    dry = apt.run(securityOnly="true", dryRun="true")
    assert b"would upgrade: libssl3\n" in dry.stdout


def test_no_package_manager_is_a_clear_failure(tmp_path: Path) -> None:
    ran = Machine(tmp_path).run()
    assert ran.returncode == 2
    assert b"no supported package manager (apt-get, dnf or yum) found" in ran.stderr


def test_only_root_upgrades(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=1000)
    machine.tool("yum", "exit 0")
    ran = machine.run()
    assert ran.returncode == 2
    assert b"upgrading packages needs root" in ran.stderr
    assert not [call for call in machine.calls() if call.startswith("yum")]
    assert machine.run(dryRun="true").returncode == 0
