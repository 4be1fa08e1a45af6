"""Errors that reach the user as one line and exit code 2 (bad input, nothing written)."""


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


class TrialInterrupted(BaseException):
    """A signal handler (SLURM's requeue) stops the running trial: no record is written, and
    the executor turns it back into the handler's exit. (A SystemExit raised by an optimizer
    or task is a failed trial; this one is not.)"""

    def __init__(self, code: object = None) -> None:
        super().__init__(code)
        self.code = code
