"""User-facing errors: one clear line, a non-zero exit, never a traceback."""


class EmoscopeError(Exception):
    """An error caused by the user's input (file, data, option), reported as one line.

    The CLI catches it, prints ``error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 2


class DataError(EmoscopeError):
    """A dataset file or folder is missing, malformed or empty."""


class ModelError(EmoscopeError):
    """An unknown model name or a bad / incompatible checkpoint."""
