"""The domain's enumerations, one definition for Python, the tables and the API.

Values are Cloud Assistant's own words, which is what the tables store and the
CLI prints; ``scheduler.rpc.convert`` maps them to the proto enums.
"""

from __future__ import annotations

from enum import StrEnum


class InvocationStatus(StrEnum):
    """Status of one execution or invocation target; the last two are overall only."""

    PENDING = "Pending"
    """Created, not yet picked up by the agent."""
    SCHEDULED = "Scheduled"
    """A periodic or boot target waiting for its next run."""
    RUNNING = "Running"
    """The agent has started the script."""
    SUCCESS = "Success"
    """The script exited 0."""
    FAILED = "Failed"
    """The script exited non-zero (or a fire was refused, e.g. over quota)."""
    ERROR = "Error"
    """The script could not run or its agent restarted while it ran."""
    TIMEOUT = "Timeout"
    """The agent killed the script at its timeout."""
    INVALID = "Invalid"
    """Not runnable on that instance: command type, user or working directory."""
    ABORTED = "Aborted"
    """Never delivered to the agent within the delivery timeout."""
    CANCELLED = "Cancelled"
    """Stopped before it started."""
    STOPPING = "Stopping"
    """Stop requested; the agent has not confirmed yet."""
    TERMINATED = "Terminated"
    """Stopped while running."""
    STOPPED = "Stopped"
    """Overall only: every instance cancelled or terminated."""
    PARTIAL_FAILED = "PartialFailed"
    """Overall only: some instances succeeded, some failed."""

    @property
    def is_final(self) -> bool:
        """True when nothing more will happen to an execution in this status."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        InvocationStatus.SUCCESS,
        InvocationStatus.FAILED,
        InvocationStatus.ERROR,
        InvocationStatus.TIMEOUT,
        InvocationStatus.INVALID,
        InvocationStatus.ABORTED,
        InvocationStatus.CANCELLED,
        InvocationStatus.TERMINATED,
        InvocationStatus.STOPPED,
        InvocationStatus.PARTIAL_FAILED,
    }
)
"""Statuses after which an execution never changes again."""

FAILURE_STATUSES = frozenset(
    {
        InvocationStatus.FAILED,
        InvocationStatus.ERROR,
        InvocationStatus.TIMEOUT,
        InvocationStatus.INVALID,
        InvocationStatus.ABORTED,
    }
)
"""Final statuses that count as a failure in the overall status."""

ACTIVE_STATUSES = frozenset(
    {InvocationStatus.PENDING, InvocationStatus.RUNNING, InvocationStatus.STOPPING}
)
"""Statuses of an execution that has not finished.

Its target shows that status, and is busy: a fire meanwhile is an overlap.
"""

DISPATCH_STATUSES = frozenset({InvocationStatus.PENDING, InvocationStatus.STOPPING})
"""Statuses of an execution its agent must be told of: a task to run, or to stop."""

REPORTED_STATUSES = frozenset(
    {
        InvocationStatus.SUCCESS,
        InvocationStatus.FAILED,
        InvocationStatus.ERROR,
        InvocationStatus.TIMEOUT,
        InvocationStatus.INVALID,
        InvocationStatus.CANCELLED,
        InvocationStatus.TERMINATED,
    }
)
"""Final statuses an agent may report for an execution; any other report counts as Error."""

INVOCATION_STATUSES = frozenset(InvocationStatus)
"""Statuses an invocation's overall status may be: any of them."""

EXECUTION_STATUSES = INVOCATION_STATUSES - {InvocationStatus.SCHEDULED}
"""Statuses an execution may have: all but Scheduled, a target's while it awaits a fire.

Stopped and PartialFailed sum up an invocation and the server gives them to no
execution, but an agent's final report may carry any final status, and it is
stored as reported.
"""

TARGET_STATUSES = EXECUTION_STATUSES | {InvocationStatus.SCHEDULED, InvocationStatus.CANCELLED}
"""Statuses a target may have: its latest execution's, Scheduled while armed, else Cancelled."""


class RepeatMode(StrEnum):
    """When an invocation runs."""

    ONCE = "Once"
    """Immediately, once on every instance."""
    PERIOD = "Period"
    """On every fire of the invocation's frequency."""
    NEXT_REBOOT_ONLY = "NextRebootOnly"
    """Once, at each instance's next boot."""
    EVERY_REBOOT = "EveryReboot"
    """At every boot of each instance."""
    DRY_RUN = "DryRun"
    """Validate everything, let the agent check user and directory, run nothing."""

    @property
    def is_immediate(self) -> bool:
        """True for modes that create their executions when the invocation is created."""
        return self in (RepeatMode.ONCE, RepeatMode.DRY_RUN)


class CommandType(StrEnum):
    """The interpreter of a command's script."""

    RUN_SHELL_SCRIPT = "RunShellScript"
    """A shell script, for Linux and FreeBSD."""
    RUN_POWER_SHELL_SCRIPT = "RunPowerShellScript"
    """A PowerShell script, for Windows."""
    RUN_BAT_SCRIPT = "RunBatScript"
    """A batch script, for Windows."""


class ContentEncoding(StrEnum):
    """How ``command_content`` is encoded in a request."""

    PLAIN_TEXT = "PlainText"
    """The script text itself."""
    BASE64 = "Base64"
    """The script text, Base64-encoded."""


class OsType(StrEnum):
    """An instance's operating system, as its agent reports it."""

    LINUX = "linux"
    WINDOWS = "windows"
    FREEBSD = "freebsd"


COMMAND_TYPES_BY_OS: dict[OsType, frozenset[CommandType]] = {
    OsType.LINUX: frozenset({CommandType.RUN_SHELL_SCRIPT}),
    OsType.FREEBSD: frozenset({CommandType.RUN_SHELL_SCRIPT}),
    OsType.WINDOWS: frozenset({CommandType.RUN_POWER_SHELL_SCRIPT, CommandType.RUN_BAT_SCRIPT}),
}
"""The command types each operating system can run."""


class Role(StrEnum):
    """What a bearer token may do."""

    CLIENT = "client"
    """Operators and gRPC clients: the command, invocation, file and fleet APIs."""
    AGENT = "agent"
    """Agents: the AgentService stream, for instances of the token's account."""


class ResourceType(StrEnum):
    """A kind of resource that carries tags (Cloud Assistant's ``ResourceType`` words)."""

    INSTANCE = "instance"
    COMMAND = "command"
    INVOCATION = "invocation"
    ACTIVATION = "activation"


class TagSource(StrEnum):
    """Who set a tag: an API tag wins over a reported one of the same key."""

    API = "api"
    """Set by TagResources, or given when the resource was created."""
    REPORTED = "reported"
    """Reported by an instance's agent in its Hello, replaced at every Hello."""


# Common commands (issue 13, item 4).
class ParameterType(StrEnum):
    """The type of a common command's parameter (``domain.parameter_types``)."""

    STRING = "String"
    """Text; a definition may restrict it to a pattern or to a list of allowed values."""
    INTEGER = "Integer"
    """A whole number in decimal digits, within the definition's minimum and maximum."""
    BOOLEAN = "Boolean"
    """``true`` or ``false`` (any letter case on input, lower case once checked)."""
