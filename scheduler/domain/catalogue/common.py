"""How a common command is declared: its script (package data) and typed parameters."""

from __future__ import annotations

from importlib import resources

from scheduler.domain.enums import CommandType, ParameterType
from scheduler.domain.models import Command
from scheduler.domain.parameter_types import ParameterDefinition

PROVIDER = "kairos"
"""DescribeCommands' ``provider`` of the common commands."""
PREFIX = "Kairos-"
"""Every common command's name, which is its id too; a saved command's id is ``c-…``."""

DRY_RUN = ParameterDefinition(
    name="dryRun",
    description="Check and report what the command would do, changing nothing.",
    type=ParameterType.BOOLEAN,
    default="false",
)
"""Every common command's dry-run switch."""


def common_command(
    *,
    name: str,
    description: str,
    script: str,
    parameters: tuple[ParameterDefinition, ...],
    timeout: int,
) -> Command:
    """A common command: a shell script of this package's ``scripts/`` and its parameters.

    The script is read once, when the catalogue is imported, as the code around it is:
    it ships in the same package, so a new release of Kairos brings its new scripts.
    """
    content = resources.files(__package__).joinpath("scripts", script).read_bytes()
    return Command(
        id=name,
        name=name,
        description=description,
        type=CommandType.RUN_SHELL_SCRIPT,
        content=content,
        working_dir="",
        timeout=timeout,
        enable_parameter=True,
        parameter_names=[p.name for p in parameters],
        kept=True,
        provider=PROVIDER,
        parameter_definitions=parameters,
    )
