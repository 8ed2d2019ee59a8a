"""The rollout benchmark's instrument, end to end on a small fleet (its own PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from bench.rollout_bench import main, parse, peak


def test_a_small_fleet_runs_with_and_without_the_limit_and_stays_within_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(["--agents", "20", "--max-concurrency", "25%", "--run-seconds", "0.2", "--json"]) == 0
    )

    figures = json.loads(capsys.readouterr().out)
    assert figures["limit"] == 5
    controlled = figures["rate_controlled"]
    assert controlled["executions"] == 20
    assert controlled["final_status"] == "SUCCESS"
    assert 1 <= controlled["peak_concurrency"] <= 5
    assert figures["baseline"]["final_status"] == "SUCCESS"
    assert figures["ratio"] > 0


def test_the_peak_counts_overlapping_runs_only() -> None:
    assert peak([]) == 0
    assert peak([(0, 10), (10, 20)]) == 1  # touching runs do not overlap
    assert peak([(0, 10), (5, 15), (6, 7), (20, 30)]) == 3


def test_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse([]).agents == 1000  # what `make bench` runs
    assert parse([]).max_concurrency == "10%"
    for wrong, words in (
        (["--agents", "0"], "--agents must be at least 1"),
        (["--run-seconds", "0"], "--run-seconds must be more than 0"),
        (["--max-concurrency", "0"], "max_concurrency '0' is too small"),
        (["--max-concurrency", ""], "--max-concurrency is required"),
    ):
        with pytest.raises(SystemExit):
            parse(wrong)
        assert words in capsys.readouterr().err
