"""Errors the CLI reports as one line without a traceback: bad input exits 2, a failed run exits 1."""


class UserError(Exception):
    """Invalid input (exit code 2): the message names the offending key or file."""


class RunFailure(Exception):
    """A run that could not finish (exit code 1): training diverged, a solution blew up."""
