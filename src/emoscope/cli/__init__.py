"""The `emoscope` command line, one module per command group; each command is a thin shell over the library."""

from emoscope.cli.main import app, main

__all__ = ["app", "main"]
