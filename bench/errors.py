"""Errors that reach the user as one line and exit code 2 (bad input, nothing written)."""


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""
