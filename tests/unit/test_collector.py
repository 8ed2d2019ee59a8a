"""The server's garbage collector settles after start-up: start-up objects frozen, and
collections far rarer than CPython's defaults (whose full collections paused the
event loop for 100 to 190 ms with 1,000 agents)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from scheduler.server import collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_settle_freezes_start_up_and_collects_less_often() -> None:
    assert gc.get_freeze_count() == 0
    collector.settle()
    assert gc.get_freeze_count() > 0
    young, middle, full = gc.get_threshold()
    assert young >= 10_000
    assert (young, middle, full) == collector.THRESHOLDS
