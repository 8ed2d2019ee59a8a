"""The two ways an operator command fails: bad usage and a failed call."""


class CliError(Exception):
    """A failure reported as one `error: …` line on stderr, exiting with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """Arguments that parse but do not make sense together; exits 2 like argparse."""

    exit_code = 2
