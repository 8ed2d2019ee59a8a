"""Kairos-RestartService: restart a service by its name."""

from scheduler.domain.catalogue.common import DRY_RUN, common_command
from scheduler.domain.enums import ParameterType
from scheduler.domain.parameter_types import ParameterDefinition

COMMAND = common_command(
    name="Kairos-RestartService",
    description="Restart a service with systemctl when systemd runs the machine, else "
    "through service(8) or /etc/init.d; exit 2 when there is no such service.",
    script="restart_service.sh",
    parameters=(
        ParameterDefinition(
            name="serviceName",
            description="The service (a systemd unit or an /etc/init.d script), e.g. nginx.",
            type=ParameterType.STRING,
            default=None,
            # A unit name's characters; never a leading '-', which a tool would read as a flag.
            pattern=r"[A-Za-z0-9@:_.][A-Za-z0-9@:_.-]{0,255}",
        ),
        DRY_RUN,
    ),
    timeout=300,
)
