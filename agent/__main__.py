"""``python -m agent [flags]``: the agent without the rest of the ``kairos`` command line."""

import argparse
import sys

from agent.main import register


def main() -> int:
    """Parse the agent's flags and run it."""
    parser = argparse.ArgumentParser(prog="python -m agent")
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(["agent", *sys.argv[1:]])
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
