"""Errors the CLI reports as one line with exit code 2 (bad input, not a bug)."""


class UserError(Exception):
    """Invalid input: the message names the offending key or file."""


class RunFailure(Exception):
    """A run that could not finish (training diverged, a solution blew up): one line, exit code 1."""
