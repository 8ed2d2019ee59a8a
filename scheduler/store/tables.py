"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this.

Every row carries its account and region (tenancy); every time is a UTC
``timestamptz``; statuses and modes are the strings of ``scheduler.domain.enums``,
each column checked against its enum. Invariants live here as keys and checks,
not in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    column,
    event,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.schema import DDL
from sqlalchemy.sql.expression import FromClause

from scheduler.domain.activations import (
    MAX_INSTANCE_COUNT,
    MAX_IP_ADDRESS_RANGE,
    MAX_REGISTRATION_ID,
    MIN_INSTANCE_COUNT,
)
from scheduler.domain.catalogue.common import PREFIX as COMMON_PREFIX
from scheduler.domain.enums import (
    ACTIVE_STATUSES,
    EXECUTION_STATUSES,
    INVOCATION_STATUSES,
    TARGET_STATUSES,
    CommandType,
    InvocationStatus,
    OsType,
    RepeatMode,
    ResourceType,
    TagSource,
)
from scheduler.domain.files import MAX_ACCOUNT_NAME, MAX_FILE_NAME, MAX_MODE, MAX_TARGET_DIR
from scheduler.domain.jitter import MAX_JITTER
from scheduler.domain.tags import MAX_TAG_KEY, MAX_TAG_VALUE
from scheduler.domain.tenancy import MAX_TENANT_ID, InstanceKey

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = DateTime(timezone=True)
NOW = func.now()


def values_of(members: Iterable[StrEnum]) -> list[str]:
    """The values of enum ``members`` in a fixed order, as SQL lists them."""
    # Sorted: a set's order changes from process to process, a statement's text must not.
    return sorted(member.value for member in members)


def one_of(column_name: str, members: Iterable[StrEnum]) -> CheckConstraint:
    """A check that ``column_name`` holds the value of one of ``members``."""
    return CheckConstraint(column(column_name).in_(values_of(members)), name=f"{column_name}_valid")


def _tenancy() -> tuple[Column[str], Column[str]]:
    return (
        Column("account_id", String(MAX_TENANT_ID), nullable=False),
        Column("region_id", String(MAX_TENANT_ID), nullable=False),
    )


def _instance_reference() -> ForeignKeyConstraint:
    """The row's instance, by the whole key: an instance id is unique only in its tenant."""
    return ForeignKeyConstraint(
        ["account_id", "region_id", "instance_id"],
        ["instances.account_id", "instances.region_id", "instances.id"],
    )


commands = Table(
    "commands",
    metadata,
    Column("id", String(40), primary_key=True),
    *_tenancy(),
    Column("name", String(128), nullable=False),
    Column("description", String(512), nullable=False, server_default=""),
    Column("type", String(32), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("working_dir", String(200), nullable=False, server_default=""),
    Column("timeout", Integer, nullable=False),
    Column("enable_parameter", Boolean, nullable=False),
    Column("parameter_names", ARRAY(Text), nullable=False, server_default="{}"),
    # False for RunCommand without keep_command: hidden and outside the quota.
    Column("kept", Boolean, nullable=False),
    Column("invoke_times", BigInteger, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    Index("ix_commands_tenant_created", "account_id", "region_id", "created_at", "id"),
    # The retention job deletes old commands RunCommand did not keep by this.
    Index("ix_commands_unkept_created", "created_at", postgresql_where=~column("kept")),
    one_of("type", CommandType),
    # The common commands' ids (issue 13, item 4) are theirs alone: they live in the code.
    CheckConstraint(f"id NOT LIKE '{COMMON_PREFIX}%'", name="id_not_common"),
)

account_usage = Table(
    "account_usage",
    metadata,
    *_tenancy(),
    Column("commands", Integer, nullable=False, server_default="0"),
    Column("instances", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("account_id", "region_id"),
    CheckConstraint("commands >= 0", name="commands_not_negative"),
    CheckConstraint("instances >= 0", name="instances_not_negative"),
)

daily_usage = Table(
    "daily_usage",
    metadata,
    *_tenancy(),
    Column("day", Date, nullable=False, comment="UTC day"),
    Column("executions", Integer, nullable=False),
    PrimaryKeyConstraint("account_id", "region_id", "day"),
    CheckConstraint("executions >= 0", name="executions_not_negative"),
)

instances = Table(
    "instances",
    metadata,
    # The agent names its instance: two tenants may each have an i-web-1.
    Column("id", String(64), nullable=False),
    *_tenancy(),
    Column("name", String(128), nullable=False, server_default=""),
    Column("os_type", String(16), nullable=False),
    Column("agent_version", String(64), nullable=False, server_default=""),
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    Column("boot_id", String(64), nullable=False, server_default=""),
    Column("registered_at", Timestamp, nullable=False, server_default=NOW),
    Column("last_heartbeat_at", Timestamp, nullable=False, server_default=NOW),
    Column("last_boot_at", Timestamp),
    # The dispatcher replica holding the agent's stream; NULL while disconnected. The
    # agent counts as connected only while that replica's lease (``dispatchers``) lives.
    Column("dispatcher_id", String(64)),
    PrimaryKeyConstraint("account_id", "region_id", "id"),
    one_of("os_type", OsType),
)

dispatchers = Table(
    "dispatchers",
    metadata,
    # A dispatcher replica's lease: renewed every few seconds while the replica lives,
    # so the agents of a replica that crashed count as gone once it lapses.
    Column("id", String(64), primary_key=True),
    Column("started_at", Timestamp, nullable=False, server_default=NOW),
    Column("renewed_at", Timestamp, nullable=False, server_default=NOW),
    Column("expires_at", Timestamp, nullable=False),
    CheckConstraint("expires_at > renewed_at", name="expires_after_renewal"),
)


def of_instance(referring: FromClause) -> ColumnElement[bool]:
    """The join of rows of ``referring`` (a target, an execution) with their instance."""
    return and_(
        instances.c.account_id == referring.c.account_id,
        instances.c.region_id == referring.c.region_id,
        instances.c.id == referring.c.instance_id,
    )


def on_instances(referring: FromClause, named: FromClause) -> ColumnElement[bool]:
    """Rows of ``referring`` (executions, targets) on the instances that the rows of
    ``named`` give by tenant and instance id (``account_id``, ``region_id``, ``instance_id``)."""
    return and_(
        referring.c.account_id == named.c.account_id,
        referring.c.region_id == named.c.region_id,
        referring.c.instance_id == named.c.instance_id,
    )


def on_one_instance(referring: FromClause) -> ColumnElement[bool]:
    """Rows of ``referring`` (executions, targets, credentials) on the one instance whose
    key the statement's parameters give (``one_instance``)."""
    return and_(
        referring.c.account_id == bindparam("of_account"),
        referring.c.region_id == bindparam("of_region"),
        referring.c.instance_id == bindparam("of_instance"),
    )


def one_instance(instance: InstanceKey) -> dict[str, str]:
    """The parameters ``on_one_instance`` reads: the instance's tenant and id."""
    return {
        "of_account": instance.tenant.account_id,
        "of_region": instance.tenant.region_id,
        "of_instance": instance.instance_id,
    }


def instance_columns(agents: Iterable[InstanceKey]) -> dict[str, list[str]]:
    """The ``account_id``, ``region_id`` and ``instance_id`` values of rows naming these
    instances, one list per column (for ``Unnested.bind``; matched by ``on_instances``)."""
    keys = list(agents)
    return {
        "account_id": [key.tenant.account_id for key in keys],
        "region_id": [key.tenant.region_id for key in keys],
        "instance_id": [key.instance_id for key in keys],
    }


def on_targets(referring: FromClause, named: FromClause) -> ColumnElement[bool]:
    """Rows of ``referring`` (executions, targets) of the targets that the rows of ``named``
    give by invocation and instance id (``invocation_id``, ``instance_id``)."""
    return and_(
        referring.c.invocation_id == named.c.invocation_id,
        referring.c.instance_id == named.c.instance_id,
    )


invocations = Table(
    "invocations",
    metadata,
    Column("id", String(40), primary_key=True),
    *_tenancy(),
    # The command is copied, not referenced: deleting it leaves its invocations intact.
    Column("command_id", String(40), nullable=False),
    Column("command_name", String(128), nullable=False),
    Column("command_type", String(32), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("enable_parameter", Boolean, nullable=False),
    Column("parameters", JSONB, nullable=False, server_default="{}"),
    Column("repeat_mode", String(16), nullable=False),
    Column("frequency", String(256), nullable=False, server_default=""),
    Column("username", String(255), nullable=False, server_default=""),
    Column("working_dir", String(200), nullable=False, server_default=""),
    Column("timeout", Integer, nullable=False),
    Column("container_id", String(128), nullable=False, server_default=""),
    # Cloud Assistant's longest container name (domain/containers.py).
    Column("container_name", String(255), nullable=False, server_default=""),
    # Rolling rate control (``domain.rollout``): empty, a count or a percentage.
    Column("max_concurrency", String(8), nullable=False, server_default=""),
    Column("max_errors", String(8), nullable=False, server_default=""),
    # Jitter and bounds of a periodic invocation (issue 12 item 5, ``domain.bounds``).
    Column("max_jitter", Integer, nullable=False, server_default="0"),
    Column("start_at", Timestamp),
    Column("end_at", Timestamp),
    CheckConstraint(f"max_jitter BETWEEN 0 AND {MAX_JITTER}", name="max_jitter_in_range"),
    CheckConstraint("end_at > start_at", name="end_after_start"),
    CheckConstraint(
        f"repeat_mode = '{RepeatMode.PERIOD.value}' "
        "OR (max_jitter = 0 AND start_at IS NULL AND end_at IS NULL)",
        name="window_only_periodic",
    ),
    # Derived from the targets (SPEC §7) through ``invocation_status_counts``, kept in
    # step in the same transactions.
    Column("status", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    Column("stopped_at", Timestamp),
    # Tags (issue 12): the selector of an invocation that targets instances by their tags
    # (key → value; an empty value asks for the key only), resolved at every fire; NULL
    # for an invocation of instance ids.
    Column("resource_tags", JSONB(none_as_null=True)),
    # Schedule control: set while paused (PauseInvocation), cleared by ResumeInvocation.
    Column("paused_at", Timestamp),
    Index("ix_invocations_tenant_created", "account_id", "region_id", "created_at", "id"),
    Index("ix_invocations_command", "command_id"),
    # The retention job looks for old final invocations by age.
    Index("ix_invocations_created", "created_at"),
    one_of("command_type", CommandType),
    one_of("repeat_mode", RepeatMode),
    one_of("status", INVOCATION_STATUSES),
)

invocation_targets = Table(
    "invocation_targets",
    metadata,
    Column(
        "invocation_id",
        String(40),
        ForeignKey("invocations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The invocation's tenant, so that the instance is referred to by its whole key.
    *_tenancy(),
    Column("instance_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    # True while future fires may come: periodic until exhausted or stopped, boot
    # triggers until stopped (NEXT_REBOOT_ONLY: until its run).
    Column("armed", Boolean, nullable=False, server_default=false()),
    # The next scheduled instant of an armed periodic target; the ticker claims by it.
    Column("next_fire_at", Timestamp),
    Column("repeats", Integer, nullable=False, server_default="0"),
    Column("overlap_skips", Integer, nullable=False, server_default="0"),
    Column("misfire_skips", Integer, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    Column("updated_at", Timestamp, nullable=False, server_default=NOW),
    # Schedule control: fires skipped while the invocation was paused.
    Column("paused_skips", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("invocation_id", "instance_id"),
    _instance_reference(),
    Index("ix_invocation_targets_instance", "account_id", "region_id", "instance_id"),
    Index(
        "ix_invocation_targets_due",
        "next_fire_at",
        postgresql_where=column("next_fire_at").is_not(None),
    ),
    one_of("status", TARGET_STATUSES),
)

invocation_status_counts = Table(
    "invocation_status_counts",
    metadata,
    # How many of an invocation's targets are in each status, kept up to date by delta
    # in the transactions that change target statuses (``store.statuses``): the overall
    # status follows from the statuses counted above zero, whatever the number of
    # targets. A status no target has any more keeps its row, at zero. No tenancy
    # columns: a row is part of its invocation and read only through it.
    Column(
        "invocation_id",
        String(40),
        ForeignKey("invocations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(16), nullable=False),
    Column("targets", Integer, nullable=False),
    PrimaryKeyConstraint("invocation_id", "status"),
    CheckConstraint("targets >= 0", name="targets_not_negative"),
    one_of("status", TARGET_STATUSES),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(40), primary_key=True),
    *_tenancy(),
    Column(
        "invocation_id",
        String(40),
        ForeignKey("invocations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("instance_id", String(64), nullable=False),
    Column("scheduled_at", Timestamp, nullable=False),
    Column("repeat", Integer, nullable=False, comment="1 for the first run on the instance"),
    Column("status", String(16), nullable=False),
    Column("script", LargeBinary, nullable=False, comment="rendered, parameters substituted"),
    Column("exit_code", Integer),
    Column("error_code", String(64), nullable=False, server_default=""),
    Column("error_info", Text, nullable=False, server_default=""),
    Column("output", LargeBinary, nullable=False, server_default=text("''::bytea")),
    Column("output_size", BigInteger, nullable=False, server_default="0"),
    Column("dropped", BigInteger, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    # When rate control let it go to its agent (``domain.rollout``); NULL while it is held
    # back. Delivery, its timeout and the sweeps count from here, never from creation.
    Column("released_at", Timestamp),
    Column("delivered_at", Timestamp),
    Column("acked_at", Timestamp),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
    Column("stop_requested_at", Timestamp),
    Column("updated_at", Timestamp, nullable=False, server_default=NOW),
    # One execution per fire of a target; led by the fire's columns, it also finds a fire's
    # executions, counted by the release step of rate control (``store.rollout``).
    UniqueConstraint("invocation_id", "scheduled_at", "instance_id", name="uq_executions_fire"),
    _instance_reference(),
    Index("ix_executions_target", "invocation_id", "instance_id", "repeat"),
    # The executions not finished, by instance: the dispatcher's claim (work waiting
    # for an agent) and the sweeps that end what no agent will answer for read only
    # these, never the whole history, which only grows.
    Index(
        "ix_executions_open",
        "account_id",
        "region_id",
        "instance_id",
        "created_at",
        postgresql_where=column("status").in_(values_of(ACTIVE_STATUSES)),
    ),
    # The executions held back by rate control, by fire in release order: what a fire's
    # release and cancel statements read (``store.rollout``); empty without rate control.
    Index(
        "ix_executions_held",
        "invocation_id",
        "scheduled_at",
        "instance_id",
        postgresql_where=and_(
            column("released_at").is_(None), column("status") == InvocationStatus.PENDING.value
        ),
    ),
    # The retention job deletes by age: the executions finished before its window.
    Index(
        "ix_executions_finished", "finished_at", postgresql_where=column("finished_at").is_not(None)
    ),
    # Not error_code: agents of other versions may report codes this server does not know.
    one_of("status", EXECUTION_STATUSES),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    *_tenancy(),
    Column("operation", String(64), nullable=False),
    Column("client_token", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    # The ids the first call returned; NULL until its transaction commits them.
    Column("response", JSONB),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("account_id", "region_id", "operation", "client_token"),
    # The retention job deletes the keys past their time by this.
    Index("ix_idempotency_keys_created", "created_at"),
)

activations = Table(
    "activations",
    metadata,
    # How machines register as managed instances: a code for a number of registrations,
    # a time and an IP range. The code itself is never stored, only its hash.
    Column("id", String(40), primary_key=True),
    *_tenancy(),
    Column("instance_name", String(128), nullable=False, server_default=""),
    Column("instance_count", Integer, nullable=False),
    Column("registered_count", Integer, nullable=False, server_default="0"),
    Column("deregistered_count", Integer, nullable=False, server_default="0"),
    # One network in canonical CIDR text (``domain.activations.address_range``).
    Column("ip_address_range", String(MAX_IP_ADDRESS_RANGE), nullable=False),
    Column("description", String(512), nullable=False, server_default=""),
    Column("code_hash", String(64), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", Timestamp, nullable=False, server_default=NOW),
    Column("expires_at", Timestamp, nullable=False),
    Index("ix_activations_tenant_created", "account_id", "region_id", "created_at", "id"),
    CheckConstraint(
        f"instance_count BETWEEN {MIN_INSTANCE_COUNT} AND {MAX_INSTANCE_COUNT}",
        name="instance_count_in_range",
    ),
    # Registration takes a count in one conditional update; this is its invariant.
    CheckConstraint(
        "registered_count >= 0 AND registered_count <= instance_count",
        name="registered_within_count",
    ),
    CheckConstraint(
        "deregistered_count >= 0 AND deregistered_count <= registered_count",
        name="deregistered_within_registered",
    ),
)

instance_credentials = Table(
    "instance_credentials",
    metadata,
    # A managed instance's credential, made when it registered: only its hash is stored.
    # Not a foreign key to ``instances``: that row appears with the agent's first Hello.
    Column("instance_id", String(64), nullable=False),
    *_tenancy(),
    # Not a foreign key either: an instance outlives a deleted activation.
    Column("activation_id", String(40), nullable=False),
    Column("credential_hash", String(64), nullable=False),
    Column("hostname", String(255), nullable=False, server_default=""),
    Column("registered_at", Timestamp, nullable=False, server_default=NOW),
    # Set once: from then on the credential is refused.
    Column("deregistered_at", Timestamp),
    # The agent's key for one registration, the same on each of its retries (NULL from an
    # agent that sends none): a retry finds its instance here instead of making another.
    Column("registration_id", String(MAX_REGISTRATION_ID)),
    PrimaryKeyConstraint("account_id", "region_id", "instance_id"),
    # Every agent connect looks its credential up by this.
    UniqueConstraint("credential_hash"),
    # One instance per registration, whatever races (NULLs are distinct: old agents').
    UniqueConstraint(
        "activation_id", "registration_id", name="uq_instance_credentials_registration"
    ),
)

tags = Table(
    "tags",
    metadata,
    # The tags of every kind of resource, apart by who set them: the API's, and those an
    # instance's agent reports in its Hello (replaced at every Hello). Where both have a
    # key, the API's wins (``store.tags.effective``). No foreign key (a row may be of any
    # of four tables): a trigger on each deletes the tags of its deleted rows.
    *_tenancy(),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("key", String(MAX_TAG_KEY), nullable=False),
    Column("value", String(MAX_TAG_VALUE), nullable=False),
    PrimaryKeyConstraint(
        "account_id", "region_id", "resource_type", "resource_id", "key", "source"
    ),
    # "The instances with these tags": selectors, filters and ListTagResources by tags.
    Index("ix_tags_tenant_key_value", "account_id", "region_id", "resource_type", "key", "value"),
    CheckConstraint("char_length(key) >= 1", name="key_not_empty"),
    CheckConstraint(
        f"source = '{TagSource.API.value}' OR resource_type = '{ResourceType.INSTANCE.value}'",
        name="reported_by_instances_only",
    ),
    one_of("resource_type", ResourceType),
    one_of("source", TagSource),
)

send_files = Table(
    "send_files",
    metadata,
    # What makes an invocation a file task (SendFile, ``domain.files``): the file to write.
    # Its bytes are each execution's script; everything else is the invocation's.
    Column(
        "invocation_id",
        String(40),
        ForeignKey("invocations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    *_tenancy(),
    Column("name", String(MAX_FILE_NAME), nullable=False),
    Column("description", String(512), nullable=False, server_default=""),
    Column("target_dir", String(MAX_TARGET_DIR), nullable=False),
    Column("file_mode", Integer, nullable=False),
    Column("file_owner", String(MAX_ACCOUNT_NAME), nullable=False),
    Column("file_group", String(MAX_ACCOUNT_NAME), nullable=False),
    Column("overwrite", Boolean, nullable=False),
    CheckConstraint("name NOT IN ('', '.', '..') AND strpos(name, '/') = 0", name="name_plain"),
    CheckConstraint("left(target_dir, 1) = '/'", name="target_dir_absolute"),
    CheckConstraint(f"file_mode BETWEEN 0 AND {MAX_MODE}", name="file_mode_in_range"),
)

TAGGED_TABLES: dict[ResourceType, Table] = {
    ResourceType.INSTANCE: instances,
    ResourceType.COMMAND: commands,
    ResourceType.INVOCATION: invocations,
    ResourceType.ACTIVATION: activations,
}
"""Each tagged resource type's table; each has ``id`` and the tenancy columns."""

DELETE_TAGS_FUNCTION = """
CREATE FUNCTION delete_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tags USING gone
    WHERE tags.account_id = gone.account_id AND tags.region_id = gone.region_id
      AND tags.resource_type = TG_ARGV[0] AND tags.resource_id = gone.id;
    RETURN NULL;
END $$
"""
"""The tags of deleted resources go with them: one statement per deleting statement."""


def delete_tags_trigger(table_name: str, resource_type: ResourceType) -> str:
    """The trigger that deletes the tags of the rows a statement deletes from a table."""
    return (
        f"CREATE TRIGGER {table_name}_delete_tags AFTER DELETE ON {table_name} "
        f"REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        f"EXECUTE FUNCTION delete_tags('{resource_type.value}')"
    )


event.listen(tags, "after_create", DDL(DELETE_TAGS_FUNCTION))  # type: ignore[no-untyped-call]
for _type, _table in TAGGED_TABLES.items():
    # After ``tags``: create_all makes tables in dependency order, these last of all.
    event.listen(metadata, "after_create", DDL(delete_tags_trigger(_table.name, _type)))  # type: ignore[no-untyped-call]
