"""Fixtures of the end-to-end tests: a real server process and three real agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.cluster import Cluster

AGENTS = ("i-1", "i-2", "i-3")


@pytest.fixture
def cluster_root(tmp_path: Path) -> Path:
    return tmp_path


@pytest_asyncio.fixture
async def cluster(database_url: str, cluster_root: Path) -> AsyncIterator[Cluster]:
    """A server with a 3-second delivery timeout and agents i-1, i-2, i-3, all running."""
    cluster = Cluster(
        root=cluster_root, database_url=database_url, server_flags=["--delivery-timeout", "3"]
    )
    try:
        await cluster.start_server()
        for instance_id in AGENTS:
            await cluster.start_agent(instance_id)
        yield cluster
    finally:
        cluster.stop()
        # pytest shows captured output only for failing tests: the logs explain them.
        print(cluster.logs())
