"""Errors a user can act on. Each carries the exit code the CLI returns for it."""


class AskbotError(Exception):
    """A failure with a one-line message meant for the user."""

    exit_code = 1


class UsageError(AskbotError):
    """Bad input: a missing folder, an empty question, a bad setting."""

    exit_code = 2


class IndexProblem(AskbotError):
    """The index on disk cannot be used as it is; the message says what to run."""

    exit_code = 2
