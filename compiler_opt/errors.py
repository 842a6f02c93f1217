"""The base of every error meant for a user: its message names the culprit and what to do."""


class MlgoError(Exception):
    """An error the `mlgo` command prints as one clear message, without a traceback."""
