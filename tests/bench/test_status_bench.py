"""The status benchmark's instrument, end to end on a small invocation (its own PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from bench.status_bench import main


def test_both_algorithms_finish_every_target_and_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--targets", "20", "--json"]) == 0

    figures = json.loads(capsys.readouterr().out)
    for run in ("baseline", "counts"):
        assert figures[run]["results"] == 20
        assert figures[run]["final_status"] == "Success"
    assert figures["ratio"] > 0
