"""The garbage collector of a server process, tuned for many long-lived streams.

With CPython's defaults a young collection runs every 700 allocations, and the
full one, which walks every long-lived object (modules, compiled statements,
descriptors, each agent's session and stream), follows every tenth middle one.
At thousands of agent messages a second that was a full collection every few
seconds, each pausing the event loop for 100 to 190 ms with 1,000 agents
connected: the tail of every latency (``bench/fleet_bench.py``). Reference
counting frees almost everything; the cyclic collector only has to catch
cycles, so it can run far less often.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 50)
"""Allocations between young collections, then young collections per middle one and
middle ones per full one (CPython's defaults: 700, 10, 10)."""


def settle() -> None:
    """After start-up: collect once, keep what start-up made out of every later
    collection (``gc.freeze``), and collect less often from now on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
