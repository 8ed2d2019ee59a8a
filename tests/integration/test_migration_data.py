"""Migrations keep the rows of a populated database (``test_migrations`` checks the schema)."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from scheduler.store.migrate import alembic_config, upgrade

# Two tenants with their instances, an invocation of tenant a with targets and
# executions, and the command count of tenant a: as revision 0003 stored them.
ROWS_AT_0003 = """
INSERT INTO instances (id, account_id, region_id, os_type, boot_id, dispatcher_id)
VALUES ('i-1', 'a', 'r', 'linux', 'b-1', 'd-1'), ('i-2', 'a', 'r', 'linux', '', NULL),
       ('i-3', 'b', 'r', 'windows', '', NULL);
INSERT INTO invocations (id, account_id, region_id, command_id, command_name, command_type,
                         content, enable_parameter, repeat_mode, timeout, status)
VALUES ('t-1', 'a', 'r', 'c-1', 'n', 'RunShellScript', 'true', false, 'Once', 60, 'Running');
INSERT INTO invocation_targets (invocation_id, instance_id, status)
VALUES ('t-1', 'i-1', 'Running'), ('t-1', 'i-2', 'Pending');
INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id, scheduled_at,
                        repeat, status, script, output)
VALUES ('e-1', 'a', 'r', 't-1', 'i-1', now(), 1, 'Running', 'true', 'out'),
       ('e-2', 'a', 'r', 't-1', 'i-2', now(), 1, 'Pending', 'true', '');
INSERT INTO account_usage (account_id, region_id, commands) VALUES ('a', 'r', 2);
"""


def test_0004_keeps_every_row_and_keys_instances_by_tenant(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "0003")
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(ROWS_AT_0003.encode())

    upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT account_id, region_id, id, os_type, boot_id, dispatcher_id FROM instances "
            "ORDER BY id"
        ).fetchall() == [
            # 0005: a stream recorded before leases existed belongs to no live lease.
            ("a", "r", "i-1", "linux", "b-1", None),
            ("a", "r", "i-2", "linux", "", None),
            ("b", "r", "i-3", "windows", "", None),
        ]
        assert conn.execute(
            "SELECT invocation_id, account_id, region_id, instance_id, status "
            "FROM invocation_targets ORDER BY instance_id"
        ).fetchall() == [("t-1", "a", "r", "i-1", "Running"), ("t-1", "a", "r", "i-2", "Pending")]
        assert conn.execute(
            "SELECT id, account_id, instance_id, status, output FROM executions ORDER BY id"
        ).fetchall() == [
            ("e-1", "a", "i-1", "Running", b"out"),
            ("e-2", "a", "i-2", "Pending", b""),
        ]
        # The instance quota starts from the instances each tenant already has.
        assert conn.execute(
            "SELECT account_id, commands, instances FROM account_usage ORDER BY account_id"
        ).fetchall() == [("a", 2, 2), ("b", 0, 1)]

        # Tenant b may now have an i-1 of its own; a row of tenant a may not name b's i-3.
        conn.execute(
            "INSERT INTO instances (id, account_id, region_id, os_type) "
            "VALUES ('i-1', 'b', 'r', 'linux')"
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO invocation_targets (invocation_id, account_id, region_id, "
                "instance_id, status) VALUES ('t-1', 'a', 'r', 'i-3', 'Pending')"
            )


def test_0006_counts_the_targets_of_existing_invocations(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "0005")
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            b"""
            INSERT INTO instances (id, account_id, region_id, os_type)
            VALUES ('i-1', 'a', 'r', 'linux'), ('i-2', 'a', 'r', 'linux'),
                   ('i-3', 'a', 'r', 'linux');
            INSERT INTO invocations (id, account_id, region_id, command_id, command_name,
                                     command_type, content, enable_parameter, repeat_mode,
                                     timeout, status)
            VALUES ('t-1', 'a', 'r', 'c-1', 'n', 'RunShellScript', 'true', false, 'Once', 60,
                    'Running'),
                   ('t-2', 'a', 'r', 'c-1', 'n', 'RunShellScript', 'true', false, 'Period', 60,
                    'Scheduled');
            INSERT INTO invocation_targets (invocation_id, account_id, region_id, instance_id,
                                            status)
            VALUES ('t-1', 'a', 'r', 'i-1', 'Running'), ('t-1', 'a', 'r', 'i-2', 'Success'),
                   ('t-1', 'a', 'r', 'i-3', 'Running'), ('t-2', 'a', 'r', 'i-1', 'Scheduled');
            """
        )

    upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT invocation_id, status, targets FROM invocation_status_counts "
            "ORDER BY invocation_id, status"
        ).fetchall() == [
            ("t-1", "Running", 2),
            ("t-1", "Success", 1),
            ("t-2", "Scheduled", 1),
        ]


def test_rate_control_releases_the_open_executions_there_are(empty_database_url: str) -> None:
    # Found by its file, not its number: merges may renumber it.
    config = alembic_config(empty_database_url)
    [revision] = [
        r for r in ScriptDirectory.from_config(config).walk_revisions() if "rate_control" in r.path
    ]
    assert isinstance(revision.down_revision, str)
    command.upgrade(config, revision.down_revision)
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            b"""
            INSERT INTO instances (id, account_id, region_id, os_type)
            VALUES ('i-1', 'a', 'r', 'linux');
            INSERT INTO invocations (id, account_id, region_id, command_id, command_name,
                                     command_type, content, enable_parameter, repeat_mode,
                                     timeout, status)
            VALUES ('t-1', 'a', 'r', 'c-1', 'n', 'RunShellScript', 'true', false, 'Period', 60,
                    'Pending');
            INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,
                                    scheduled_at, repeat, status, script, created_at)
            VALUES ('e-1', 'a', 'r', 't-1', 'i-1', now(), 1, 'Success', 'true',
                    '2026-01-01T00:00:00Z'),
                   ('e-2', 'a', 'r', 't-1', 'i-1', now() + interval '1 s', 2, 'Pending', 'true',
                    '2026-01-02T00:00:00Z');
            """
        )

    upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        # The pending one was sent as it was created: not held back by rate control now.
        assert conn.execute(
            "SELECT id, released_at = created_at FROM executions ORDER BY id"
        ).fetchall() == [("e-1", None), ("e-2", True)]
        assert conn.execute("SELECT max_concurrency, max_errors FROM invocations").fetchall() == [
            ("", "")
        ]
