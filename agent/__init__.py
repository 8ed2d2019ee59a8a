"""The Kairos agent: connects to a dispatcher and runs its tasks as real processes."""

from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("kairos")
    except metadata.PackageNotFoundError:
        # Running from a source tree that was never installed.
        return "0.0.0+source"


__version__ = _version()
