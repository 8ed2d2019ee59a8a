"""Kairos-CollectDiagnostics: the machine's state, for a first look at a problem."""

from scheduler.domain.catalogue.common import DRY_RUN, common_command
from scheduler.domain.enums import ParameterType
from scheduler.domain.parameter_types import ParameterDefinition

COMMAND = common_command(
    name="Kairos-CollectDiagnostics",
    description="Print the OS, load, memory, disks, failed systemd units and recent kernel "
    "errors; a tool the machine lacks (systemctl, journalctl, dmesg) is skipped, said so.",
    script="collect_diagnostics.sh",
    parameters=(
        ParameterDefinition(
            name="kernelErrorLines",
            description="How many of the latest kernel error lines to print (1-1000).",
            type=ParameterType.INTEGER,
            default="50",
            minimum=1,
            maximum=1000,
        ),
        DRY_RUN,
    ),
    timeout=120,
)
