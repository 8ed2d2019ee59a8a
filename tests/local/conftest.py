"""Fixtures of the `scheduler.local` tests: the CLI tests' scripted API, for the waits."""

from tests.cli.conftest import api

__all__ = ["api"]
