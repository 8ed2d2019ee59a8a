"""Kairos-CleanupLogs: delete old files under a log directory."""

from scheduler.domain.catalogue.common import DRY_RUN, common_command
from scheduler.domain.enums import ParameterType
from scheduler.domain.parameter_types import ParameterDefinition

COMMAND = common_command(
    name="Kairos-CleanupLogs",
    description="Delete the regular files under a directory whose name matches a pattern "
    "and that were last modified at least age days ago; symbolic links are not followed.",
    script="cleanup_logs.sh",
    parameters=(
        ParameterDefinition(
            name="path",
            description="The directory to clean up, an absolute path other than /.",
            type=ParameterType.STRING,
            default="/var/log",
            pattern=r"(/[^/\n]+)+/?",
        ),
        ParameterDefinition(
            name="age",
            description="Delete files last modified this many days ago or earlier (1-3650).",
            type=ParameterType.INTEGER,
            default="30",
            minimum=1,
            maximum=3650,
        ),
        ParameterDefinition(
            name="pattern",
            description="A find -name pattern of the file names to delete (no '/'), e.g. "
            "*.gz; * is every file.",
            type=ParameterType.STRING,
            default="*",
            pattern=r"[^/\n]{1,255}",
        ),
        DRY_RUN,
    ),
    timeout=600,
)
