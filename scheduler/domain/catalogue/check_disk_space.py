"""Kairos-CheckDiskSpace: fails when a filesystem is used at or above a threshold."""

from scheduler.domain.catalogue.common import DRY_RUN, common_command
from scheduler.domain.enums import ParameterType
from scheduler.domain.parameter_types import ParameterDefinition

COMMAND = common_command(
    name="Kairos-CheckDiskSpace",
    description="Check the use of the filesystem holding a path: exit 1 when it is at or "
    "above the threshold (a percentage), 0 below it, 2 when the path does not exist.",
    script="check_disk_space.sh",
    parameters=(
        ParameterDefinition(
            name="path",
            description="A path on the filesystem to check.",
            type=ParameterType.STRING,
            default="/",
            pattern=r"/.*",
        ),
        ParameterDefinition(
            name="threshold",
            description="The percentage of use (1-100) at or above which the check fails.",
            type=ParameterType.INTEGER,
            default="90",
            minimum=1,
            maximum=100,
        ),
        DRY_RUN,
    ),
    timeout=60,
)
