"""The ticker benchmark's instrument, end to end on a small shape (its own PostgreSQL):
seeding writes what the store keeps with every invocation, and every phase runs."""

from __future__ import annotations

import json

import pytest

from bench.ticker_bench import main


def test_every_phase_runs_on_a_small_shape(capsys: pytest.CaptureFixture[str]) -> None:
    small = ["--schedules", "500", "--due", "100", "--instances", "50", "--per-invocation", "10"]
    steady = ["--steady-targets", "50", "--steady-seconds", "2", "--burst", "100"]
    assert main([*small, *steady, "--json"]) == 0

    figures = json.loads(capsys.readouterr().out)
    assert figures["materialised"]["rows"] == 100  # every due target fired
    assert figures["lateness"]["created"] == figures["lateness"]["expected"]
