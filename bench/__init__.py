"""Benchmarks, run from the repository root: `python -m bench.NAME` (`make bench` runs them all)."""
