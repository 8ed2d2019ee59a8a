"""The catalogue of codes: each code Kairos reports, defined once with what it means.

``ExecutionErrorCode`` is what an execution's ``error_code`` says, whether the
agent reported it or the server decided it; the agent and the server share it.
``RefusalCode`` is why an API request was refused (``KairosError.code``), and
``QuotaName`` names the account quotas. docs/concepts.md lists them all.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class ExecutionErrorCode(StrEnum):
    """Why an execution did not succeed: ``ExecutionResult.error_code``, Cloud Assistant's words.

    Empty (no member) for a success. The status each code goes with is in brackets.
    """

    EXIT_CODE_NONZERO = "ExitCodeNonzero"
    """The script ran and exited with a non-zero code (status ``Failed``)."""
    EXECUTION_TIMEOUT = "ExecutionTimeout"
    """The script ran past its timeout and its process group was killed (``Timeout``); or,
    ended by the server, its agent never reported its end within the timeout and 60 s."""
    EXECUTION_INTERRUPTED = "ExecutionInterrupted"
    """A stop request killed the running script, or the server ended it at once because
    its agent was not connected to confirm the stop (``Terminated``)."""
    EXECUTION_CANCELLED = "ExecutionCancelled"
    """A stop request removed the task from the queue before it started (``Cancelled``)."""
    EXECUTION_EXCEPTION = "ExecutionException"
    """The script could not be started at all (``Error``)."""
    CLIENT_RESTARTED = "ClientRestarted"
    """The agent died while the task was queued or running (``Error``), or reconnected
    without it, its state lost (``Error``; ``Terminated`` when it was stopping)."""
    CLIENT_BUSY = "ClientBusy"
    """The agent's run queue was full when the task arrived (``Error``)."""
    INVALID_COMMAND_TYPE = "InvalidCommandType"
    """The command type cannot run on this OS (``Invalid``)."""
    DIRECTORY_NOT_EXISTS = "DirectoryNotExists"
    """The working directory does not exist on the instance (``Invalid``)."""
    ACCOUNT_NOT_EXISTS = "AccountNotExists"
    """The username does not exist on the instance (``Invalid``; Cloud Assistant's name)."""
    USER_NOT_PERMITTED = "UserNotPermitted"
    """Another user was asked for but the agent cannot switch users (``Invalid``)."""
    # A run inside a container (container_id / container_name): the agent could not
    # find or enter it. Info names the container.
    CONTAINER_NOT_FOUND = "ContainerNotFound"
    """No container of the given id or name exists on the instance (``Invalid``)."""
    CONTAINER_STATE_ABNORMAL = "ContainerStateAbnormal"
    """The container exists but is not running (created, exited, paused, restarting), or
    its first process is not visible to the agent (``Invalid``)."""
    CONTAINER_NAME_DUPLICATED = "ContainerNameDuplicated"
    """More than one running container has the given name (``Invalid``)."""
    CONTAINER_NAME_AND_ID_NOT_MATCH = "ContainerNameAndIdNotMatch"
    """Both a container id and a name were given, and the container of that id has
    another name (``Invalid``)."""
    UNSUPPORTED_CONTAINER_RUNTIME = "UnsupportedContainerRuntime"
    """The container id's runtime prefix is not one Kairos speaks (``docker://``,
    ``containerd://``, ``cri-o://``) (``Invalid``)."""
    CONTAINER_CONNECT_FAILED = "ContainerConnectFailed"
    """No container runtime socket the agent was given (Docker's, the CRI's) answered
    (``Invalid``)."""
    INVOCATION_QUOTA_EXCEEDED = "InvocationQuotaExceeded"
    """A fire found the account's daily execution quota used up and did not run (``Failed``)."""
    MAX_ERRORS_EXCEEDED = "MaxErrorsExceeded"
    """More executions of its fire failed than the invocation's ``max_errors`` allows, so
    this one, held back by ``max_concurrency``, was never started (``Cancelled``)."""
    DELIVERY_TIMEOUT = "DeliveryTimeout"
    """The agent was connected but did not take the task in the delivery timeout (``Aborted``)."""
    CLIENT_NOT_RUNNING = "ClientNotRunning"
    """The agent was offline (no heartbeat) for the whole delivery timeout (``Aborted``)."""
    CLIENT_NOT_RESPONSE = "ClientNotResponse"
    """The agent was not connected to take the task within the delivery timeout (``Aborted``),
    or it stopped answering while it held the task (``Error``, after ``--agent-lost-after``)."""
    INSTANCE_DEREGISTERED = "InstanceDeregistered"
    """The managed instance was deregistered while the execution was open (``Error``): its
    agent's credential is refused from then on, so it can never report it."""
    # File tasks (SendFile, issue 13 item 1): what the agent reports when it cannot write
    # the file (``agent/files.py``). The server checks name, directory, content and mode
    # before anything is stored; the agent checks them again for a task from elsewhere.
    FILE_NAME_INVALID = "FileNameInvalid"
    """The file name or target directory is not one a file can be written to: not a plain
    name, or not an absolute normalised directory (``Invalid``)."""
    FILE_EXIST = "FileExist"
    """The file exists and the task's ``overwrite`` is false: it was left as it was
    (``Failed``)."""
    EMPTY_FILE = "EmptyFile"
    """The file task carries no content (``Invalid``)."""
    INVALID_FILE_CONTENT = "InvalidFileContent"
    """The path exists and is not a regular file (a directory, a socket…) (``Failed``)."""
    INVALID_FILE_MODE = "InvalidFileMode"
    """The file mode is over 07777 (``Invalid``)."""
    FILE_OWNER_NOT_EXIST = "FileOwnerNotExist"
    """The file owner is no user of the instance (``Invalid``)."""
    FILE_GROUP_NOT_EXIST = "FileGroupNotExist"
    """The file group is no group of the instance (``Invalid``)."""
    DIRECTORY_CREATE_FAIL = "DirectoryCreateFail"
    """The target directory could not be created or opened: a component is not a
    directory, a symbolic link leads out of it, or permission is denied (``Failed``)."""
    FILE_CREATE_FAIL = "FileCreateFail"
    """The file could not be written or renamed into place (``Failed``)."""
    FILE_CHOWN_FAIL = "FileChownFail"
    """The file's owner and group could not be set (the agent is not root) (``Failed``)."""
    FILE_CHMOD_FAIL = "FileChmodFail"
    """The file's mode could not be set (``Failed``)."""


@unique
class RefusalCode(StrEnum):
    """Why an API request was refused: ``KairosError.code``, Cloud Assistant's words.

    Sent as the ``ErrorInfo`` reason and at the start of the status message
    (``Code: what is wrong``); nothing was changed. The gRPC status each code
    goes with is in brackets.
    """

    # INVALID_ARGUMENT: a request field breaks a rule; BadRequest names the field.
    INVALID_PARAM_TYPE = "InvalidParam.Type"
    """A command was created or run without a command type (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_NAME = "InvalidParam.Name"
    """A command name is over 128 characters, or empty where one is required: a saved
    command's, or a ModifyCommand's new name (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_DESCRIPTION = "InvalidParam.Description"
    """A command description is over 512 characters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_WORKING_DIR = "InvalidParam.WorkingDir"
    """A working directory is over 200 characters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_USERNAME = "InvalidParam.Username"
    """An invocation's username is over 255 characters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_CONTAINER_ID = "InvalidParam.ContainerId"
    """An invocation's container id is not 64 hexadecimal characters, optionally after
    ``docker://``, ``containerd://`` or ``cri-o://`` (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_CONTAINER_NAME = "InvalidParam.ContainerName"
    """An invocation's container name is not a letter or digit followed by at most 254
    letters, digits, ``.``, ``_`` or ``-`` (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_CONTAINER = "InvalidParam.Container"
    """An invocation names a container for a command that is not a shell script: only
    ``RunShellScript`` runs in a container (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_TIMEOUT = "InvalidParam.Timeout"
    """A timeout is outside 10–86,400 seconds (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_MAX_CONCURRENCY = "InvalidParam.MaxConcurrency"
    """An invocation's max_concurrency is not empty, a count ≥ 1 or a percentage 1–100%
    (AWS's MaxConcurrency; Cloud Assistant has none) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_MAX_ERRORS = "InvalidParam.MaxErrors"
    """An invocation's max_errors is not empty, a count ≥ 0 or a percentage 0–100%
    (AWS's MaxErrors) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_CLIENT_TOKEN = "InvalidParam.ClientToken"
    """A client token is over 64 characters or not printable ASCII (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_MAX_RESULTS = "InvalidParam.MaxResults"
    """A page size is outside 1–50 (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_NEXT_TOKEN = "InvalidParam.NextToken"
    """A next token is not one the server handed out (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_INSTANCE_ID = "InvalidParam.InstanceId"
    """The instance ids are missing, hold an empty id or more than the per-call limit; or
    an agent's Hello has an instance id that is blank, over 64 characters or holds a NUL
    character; or a ModifyInvocation adds and removes one instance, would arm more than
    the per-call limit or remove the last armed one (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_COMMAND_CONTENT = "InvalidParam.CommandContent"
    """The script is missing, not valid Base64, too large (also after parameter
    substitution), or has a malformed parameter name, an unknown ``ACS::`` built-in or
    too many parameters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_PARAMETERS = "InvalidParam.Parameters"
    """Parameters were given to a command without them, or name parameters the command
    does not define (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_MODIFY = "InvalidParam.Modify"
    """A ModifyCommand or ModifyInvocation sets none of the fields it may change
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY = "InvalidParam.Frequency"
    """A frequency is missing with repeat mode ``PERIOD``, or given with another repeat
    mode (``INVALID_ARGUMENT``)."""
    # The schedule engine's codes (scheduler.schedule.ErrorCode) under InvalidParam.Frequency;
    # the engine cannot import this catalogue, so domain/invocation.py maps one to the other.
    INVALID_PARAM_FREQUENCY_INVALID_CRON_EXPRESSION = "InvalidParam.Frequency.InvalidCronExpression"
    """A cron expression is malformed: wrong field count, junk or out-of-range values
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_INVALID_RATE_EXPRESSION = "InvalidParam.Frequency.InvalidRateExpression"
    """A ``rate(…)`` is malformed or longer than 7 days (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_INVALID_AT_EXPRESSION = "InvalidParam.Frequency.InvalidAtExpression"
    """An ``at(…)`` is malformed or names a date that does not exist (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_INVALID_TIME_ZONE = "InvalidParam.Frequency.InvalidTimeZone"
    """A frequency's zone is not an IANA name, UTC/GMT or a GMT±H:MM offset
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_INTERVAL_TOO_SHORT = "InvalidParam.Frequency.IntervalTooShort"
    """Two consecutive fires could be less than 10 seconds apart (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_NEVER_FIRES = "InvalidParam.Frequency.NeverFires"
    """A valid cron expression matches no time in 1970–2099 (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FREQUENCY_NO_FUTURE_FIRE = "InvalidParam.Frequency.NoFutureFire"
    """A schedule has no fire after now on some target: an ``at`` in the past, a year range
    that is over (``INVALID_ARGUMENT``)."""
    # Jitter and bounds of a periodic invocation (issue 12 item 5).
    INVALID_PARAM_MAX_JITTER = "InvalidParam.MaxJitter"
    """A ``max_jitter`` is negative, over 3,600 seconds or over half the schedule's
    interval, or given to an invocation that is not periodic (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_START_TIME = "InvalidParam.StartTime"
    """A ``start_time`` is not a valid instant or outside the years 1970-2099, or is given
    to an invocation that is not periodic (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_END_TIME = "InvalidParam.EndTime"
    """An ``end_time`` is not a valid instant or outside 1970-2099, not after ``start_time``,
    not in the future, leaves some target no fire, or is given to an invocation that is not
    periodic (``INVALID_ARGUMENT``)."""
    # SendFile (issue 13 item 1): the file task's own fields.
    INVALID_PARAM_FILE_NAME = "InvalidParam.FileName"
    """A SendFile ``name`` is empty, over 255 bytes, ``.`` or ``..``, or holds a ``/``
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_TARGET_DIR = "InvalidParam.TargetDir"
    """A SendFile ``target_dir`` is empty, over 255 characters, not absolute or not
    normalised (``//``, a ``.`` or ``..`` component, a trailing ``/``) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_CONTENT = "InvalidParam.Content"
    """A SendFile ``content`` is empty, not valid Base64 (``content_type`` BASE64), or over
    32,768 bytes once Base64-encoded (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FILE_MODE = "InvalidParam.FileMode"
    """A SendFile ``file_mode`` is not 3 or 4 octal digits at most 07777 (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FILE_OWNER = "InvalidParam.FileOwner"
    """A SendFile ``file_owner`` is not a POSIX user name (a letter, digit, ``_`` or ``.``
    first, then those and ``-``, at most 32) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_FILE_GROUP = "InvalidParam.FileGroup"
    """A SendFile ``file_group`` is not a POSIX group name, by the rule of ``file_owner``
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_INVOCATION_STATUS = "InvalidParam.InvocationStatus"
    """A DescribeSendFileResults ``invocation_status`` is not one a file task shows
    (Pending, Running, Success, Failed, Invalid, Aborted, Timeout) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_HELLO = "InvalidParam.Hello"
    """An agent's stream did not start with a Hello, or not within the Hello timeout; or a
    Hello field is over its length (name 128 characters, agent version, time zone and boot
    id 64), holds a NUL character, the OS type is not one Kairos knows, or the protocol
    version is negative; BadRequest
    names the field, ``hello.<field>`` (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_AGENT_MESSAGE = "InvalidParam.AgentMessage"
    """An agent's message breaks the protocol: bytes that do not decode as a message, a
    second Hello, a message of no kind the server knows, an execution id that is not
    1-40 printable ASCII characters, or a Reports message that is empty, holds more than
    256 reports or an unset one, or comes from an agent whose Hello did not say protocol
    2; BadRequest names the field, e.g. ``result.execution_id`` or ``reports.reports``
    (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_INSTANCE_NAME = "InvalidParam.InstanceName"
    """An activation's instance name is over 128 characters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_INSTANCE_COUNT = "InvalidParam.InstanceCount"
    """An activation's instance count is outside 1–1,000 (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_TIME_TO_LIVE_IN_HOURS = "InvalidParam.TimeToLiveInHours"
    """An activation's time to live is outside 1–876,000 hours (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_IP_ADDRESS_RANGE = "InvalidParam.IpAddressRange"
    """An activation's IP address range is not one IPv4 or IPv6 network in CIDR notation
    without host bits, such as ``10.0.0.0/8`` (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_HOSTNAME = "InvalidParam.Hostname"
    """A registering agent's hostname is over 255 characters (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_REGISTRATION_ID = "InvalidParam.RegistrationId"
    """A registering agent's registration id is over 64 characters or not printable ASCII
    (``INVALID_ARGUMENT``)."""
    # Tags (issue 12): Cloud Assistant's TagResources and ResourceTag words.
    INVALID_TAG_KEY_MALFORMED = "InvalidTagKey.Malformed"
    """A tag key is empty, over 64 characters, starts with ``acs:`` or ``aliyun``, or is
    given twice in one request (``INVALID_ARGUMENT``)."""
    INVALID_TAG_VALUE_MALFORMED = "InvalidTagValue.Malformed"
    """A tag value is over 128 characters (``INVALID_ARGUMENT``)."""
    INVALID_TAG_COUNT = "InvalidTagCount"
    """More than 20 tags in a request, or a resource would have more than 20 API tags
    (``INVALID_ARGUMENT``)."""
    INVALID_RESOURCE_TYPE_NOT_SUPPORTED = "InvalidResourceType.NotSupported"
    """A tag call without a resource type (``INVALID_ARGUMENT``)."""
    INVALID_RESOURCE_ID = "InvalidResourceId"
    """A tag call without resource ids, with an empty one or more than 50; or a
    ListTagResources with both resource ids and tags, or neither
    (``INVALID_ARGUMENT``)."""
    INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS = "InvalidResourceTag.ConflictWithInstanceIds"
    """An invocation names both ``instance_ids`` and ``resource_tags`` (``INVALID_ARGUMENT``);
    or a ModifyInvocation gives ``resource_tags`` to an invocation by instance ids, or
    instance ids to add or remove to one by selector (``FAILED_PRECONDITION``)."""
    INVALID_RESOURCE_TAG_TOO_MANY_INSTANCES = "InvalidResourceTag.TooManyInstances"
    """A selector (``resource_tags``) matches more instances than
    ``--max-instances-per-selector`` (``INVALID_ARGUMENT``)."""
    INVALID_RESOURCE_ID_NOT_FOUND = "InvalidResourceId.NotFound"
    """Resources to tag, untag or list are not the caller's account's; the message names
    every one (``NOT_FOUND``)."""
    INVALID_RESOURCE_TAG_NOT_FOUND = "InvalidResourceTag.NotFound"
    """A one-time run's selector (``resource_tags``) matches no instance, or a
    TriggerInvocation of an invocation by selector finds no armed member (``NOT_FOUND``)."""

    # NOT_FOUND: unknown, or another account's (the two are never told apart).
    INVALID_COMMAND_ID_NOT_FOUND = "InvalidCommandId.NotFound"
    """The command id names no command of the caller's account (``NOT_FOUND``)."""
    INVALID_INVOKE_ID_NOT_FOUND = "InvalidInvokeId.NotFound"
    """The invoke id names no invocation of the caller's account (``NOT_FOUND``)."""
    INVALID_INSTANCE_NOT_FOUND = "InvalidInstance.NotFound"
    """Instances to invoke on (or to add to an invocation) are not the caller's account's,
    or instances to stop, remove or trigger are not the invocation's, or the instance to
    deregister is no registered managed instance of
    the account; the message names every one (``NOT_FOUND``)."""
    INVALID_ACTIVATION_ID_NOT_FOUND = "InvalidActivationId.NotFound"
    """The activation id names no activation of the caller's account (``NOT_FOUND``)."""
    INVALID_ACTIVATION_IN_USE = "InvalidActivation.InUse"
    """An activation that registered instances and is not disabled cannot be deleted:
    disable it first (``FAILED_PRECONDITION``)."""
    INVALID_ACTIVATION_EXPIRED = "InvalidActivation.Expired"
    """A registration with an activation past its expiry time (``FAILED_PRECONDITION``)."""
    INVALID_ACTIVATION_DISABLED = "InvalidActivation.Disabled"
    """A registration with a disabled activation (``FAILED_PRECONDITION``)."""
    INVALID_ACTIVATION_COUNT_EXHAUSTED = "InvalidActivation.CountExhausted"
    """A registration with an activation that registered its instance count already
    (``RESOURCE_EXHAUSTED``)."""
    INVALID_ACTIVATION_IP_ADDRESS_RANGE = "InvalidActivation.IpAddressRange"
    """A registration from an address outside the activation's IP address range
    (``PERMISSION_DENIED``)."""
    INVALID_ACTIVATION_CODE = "InvalidActivation.Code"
    """A registration whose activation id or code is wrong; the two are never told apart
    (``UNAUTHENTICATED``)."""

    CLIENT_NEED_UPGRADE = "ClientNeedUpgrade"
    """An agent's Hello says a protocol version older than any this server speaks; the
    message names ``Hello.protocol``, its value and the versions the server speaks
    (``FAILED_PRECONDITION``)."""
    INVALID_INSTANCE_AGENT_OFFLINE = "InvalidInstance.AgentOffline"
    """An invocation that runs at once (not a timed or boot one) targets instances whose
    agents sent no heartbeat within the offline threshold; the message names every one
    (``FAILED_PRECONDITION``)."""
    # Schedule control (PauseInvocation, ResumeInvocation, ModifyInvocation, TriggerInvocation).
    INVALID_INVOCATION_REPEAT_MODE = "InvalidInvocation.RepeatMode"
    """A one-time invocation (``ONCE``, ``DRY_RUN``) cannot be paused, resumed, modified or
    triggered: only periodic and boot ones have a schedule (``FAILED_PRECONDITION``)."""
    INVALID_INVOCATION_FINISHED = "InvalidInvocation.Finished"
    """The invocation has no armed instance left (stopped, or its schedule is over): it
    cannot be paused, resumed, modified or triggered (``FAILED_PRECONDITION``). An
    invocation by selector that is not stopped is never finished: instances may join it."""
    INVALID_INSTANCE_NOT_ARMED = "InvalidInstance.NotArmed"
    """A trigger names instances of the invocation that are no longer armed (stopped or
    removed); the message names every one (``FAILED_PRECONDITION``)."""

    # Common commands (issue 13, item 4): the catalogue shipped with Kairos.
    INVALID_PARAM_PROVIDER = "InvalidParam.Provider"
    """A DescribeCommands ``provider`` is neither empty (the account's own commands) nor
    ``kairos`` (the common commands) (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_PARAMETER_VALUE = "InvalidParam.ParameterValue"
    """A common command's parameter is missing with no default, or its value does not fit
    its definition: type, range, pattern or allowed values; the field is
    ``parameters.<name>`` (``INVALID_ARGUMENT``)."""
    INVALID_COMMAND_ID_COMMON_COMMAND = "InvalidCommandId.CommonCommand"
    """The command id names a common command (``Kairos-…``), shipped with Kairos and shared
    by every account: it cannot be modified or deleted, nor the script of an invocation of
    it changed (``FAILED_PRECONDITION``)."""

    # RESOURCE_EXHAUSTED: QuotaFailure names the quota (QuotaName).
    QUOTA_EXCEED_WATCH = "Quota.ExceedWatch"
    """Another WatchInvocation would exceed the account's ``MaxWatchCount`` on that
    server replica (``RESOURCE_EXHAUSTED``)."""
    QUOTA_EXCEED_COMMAND = "Quota.ExceedCommand"
    """Saving a command would exceed the account's ``MaxCommandCount``
    (``RESOURCE_EXHAUSTED``)."""
    QUOTA_EXCEED_INSTANCE = "Quota.ExceedInstance"
    """An agent's Hello names an instance the account does not have yet, and it already has
    ``MaxInstanceCount`` instances (``RESOURCE_EXHAUSTED``)."""
    INVOCATION_EXCEED_QUOTA = "Invocation.ExceedQuota"
    """The invocation's executions would exceed the account's ``MaxDailyExecutionCount``
    for the UTC day (``RESOURCE_EXHAUSTED``)."""

    IDEMPOTENT_PARAMETER_MISMATCH = "IdempotentParameterMismatch"
    """A client token was already used for a different request (``ALREADY_EXISTS``)."""

    UNAUTHENTICATED = "Unauthenticated"
    """The call carries no bearer token, or one the server does not know, or the
    credential of a deregistered managed instance; or a Register retries the registration
    id of a managed instance deregistered since (``UNAUTHENTICATED``)."""
    FORBIDDEN_TOKEN_ROLE = "Forbidden.TokenRole"
    """A client token on the agent API, or an agent token on the client API
    (``PERMISSION_DENIED``)."""
    FORBIDDEN_INSTANCE = "Forbidden.Instance"
    """An agent stream's Hello names an instance its credential does not speak for: an
    instance credential speaks only for its own managed instance, an account's agent
    token for no managed instance (``PERMISSION_DENIED``)."""
    UNAUTHENTICATED_AGENT_PORT = "Unauthenticated.AgentPort"
    """An agent call on ``--listen`` of a server that serves agents on ``--agent-listen``
    (with ``--tls-client-ca``, the only port that verifies client certificates)
    (``UNAUTHENTICATED``)."""

    MISSING_PARAMETER = "MissingParameter"
    """A required field (an id) is empty; the field is named (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_NUL_CHARACTER = "InvalidParam.NulCharacter"
    """A text field contains a NUL character, which no field may hold (``INVALID_ARGUMENT``)."""
    INVALID_PARAM_ENUM = "InvalidParam.Enum"
    """An enum field has a value this server does not know (``INVALID_ARGUMENT``)."""
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    """The database could not be reached or kept failing; retrying later may succeed
    (``UNAVAILABLE``). The message carries a request id that the server's log also has."""
    INTERNAL_ERROR = "InternalError"
    """An unexpected error in the server. The message carries a request id that the
    server's log also has, with the details (``INTERNAL``)."""


@unique
class QuotaName(StrEnum):
    """An account quota: the ``QuotaFailure`` subject and the DescribeAccountAttributes name."""

    MAX_COMMAND_COUNT = "MaxCommandCount"
    """Saved commands per account and region (RunCommand without keep_command is not saved)."""
    MAX_DAILY_EXECUTION_COUNT = "MaxDailyExecutionCount"
    """Executions per account, region and UTC day (dry runs do not count)."""
    MAX_INSTANCE_COUNT = "MaxInstanceCount"
    """Instances (agents that ever connected) per account and region."""
    MAX_WATCH_COUNT = "MaxWatchCount"
    """Concurrent WatchInvocation streams per account and region, on each server replica."""
