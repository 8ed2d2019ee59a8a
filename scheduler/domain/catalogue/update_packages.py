"""Kairos-UpdatePackages: upgrade the installed packages, apt, dnf or yum."""

from scheduler.domain.catalogue.common import DRY_RUN, common_command
from scheduler.domain.enums import ParameterType
from scheduler.domain.parameter_types import ParameterDefinition

COMMAND = common_command(
    name="Kairos-UpdatePackages",
    description="Upgrade the installed packages with apt, dnf or yum (whichever the machine "
    "has), as root; with rebootIfNeeded, end with exit code 194 (the agent reboots the "
    "machine) when the upgrade needs a reboot.",
    script="update_packages.sh",
    parameters=(
        ParameterDefinition(
            name="securityOnly",
            description="Install security updates only.",
            type=ParameterType.BOOLEAN,
            default="false",
        ),
        ParameterDefinition(
            name="rebootIfNeeded",
            description="Exit 194, so that the agent reboots the machine, when the upgrade "
            "needs a reboot.",
            type=ParameterType.BOOLEAN,
            default="false",
        ),
        DRY_RUN,
    ),
    timeout=3600,
)
