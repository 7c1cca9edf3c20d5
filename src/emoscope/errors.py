"""User-facing errors: one clear line, a non-zero exit, never a traceback.

Exit codes: 0 done, 2 bad input (:class:`EmoscopeError`), 3 an output could not be written,
4 done but partial (e.g. a damaged video: what could be decoded was analysed, and the report says so),
130 interrupted.
"""

EXIT_OUTPUT_FAILED = 3
EXIT_PARTIAL = 4


class EmoscopeError(Exception):
    """An error caused by the user's input (file, data, option), reported as one line.

    The CLI catches it, prints ``error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 2


class DataError(EmoscopeError):
    """A dataset file or folder is missing, malformed or empty."""


class ModelError(EmoscopeError):
    """An unknown model name or a bad / incompatible checkpoint."""


class OutputError(EmoscopeError):
    """An output cannot be written (folder not writable, disk full)."""

    exit_code = EXIT_OUTPUT_FAILED
