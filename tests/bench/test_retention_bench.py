"""The retention benchmark's instrument, end to end on a small shape (its own PostgreSQL):
the backlog is seeded as the store keeps it, and the job deletes it during the run."""

from __future__ import annotations

import json

import pytest

from bench.retention_bench import main


def test_both_runs_fire_and_the_job_deletes_the_backlog(
    capsys: pytest.CaptureFixture[str],
) -> None:
    small = ["--old-rows", "4000", "--old-repeats", "4", "--instances", "50"]
    shape = ["--per-invocation", "10", "--steady-targets", "50", "--steady-seconds", "2"]
    assert main([*small, *shape, "--json"]) == 0

    figures = json.loads(capsys.readouterr().out)
    assert figures["old_rows"] == 4000
    assert figures["deleted_during"] == 4000
    for run in ("baseline", "with_retention"):
        assert figures[run]["created"] == figures[run]["expected"]
    assert figures["p99_ratio"] > 0
