"""The `emoscope` command line: one typer app assembled from the command modules, and its entry point,
where every user error (a bad option, a bad file) becomes one ``error:`` line and an exit code."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

import typer
from pydantic import ValidationError
from typer._click.exceptions import NoArgsIsHelpError

from emoscope.cli import analyze, bench, gesture, gui, models, panic, predict, replicate, serve, train
from emoscope.cli.options import warn
from emoscope.errors import EXIT_OUTPUT_FAILED, EmoscopeError

app = typer.Typer(
    help="emoscope: offline facial-expression recognition: train, evaluate, export, recognise, analyse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (models, train, analyze, predict, gesture, serve, gui, replicate):
    app.add_typer(module.app)
app.add_typer(bench.app, name="bench")
app.add_typer(panic.app, name="panic")

USAGE_ERROR = 2
INTERRUPTED = 130


def _interrupt(signum, frame) -> None:
    """SIGTERM (a scheduler stopping the job, `kill`) ends a run like Ctrl+C: writers close properly,
    unfinished outputs are kept under .partial names, finished ones stay."""
    raise KeyboardInterrupt


def option_name(args: Sequence[str], loc: tuple) -> str:
    """The flag of the command in ``args`` whose parameter is named like the field at ``loc`` (see
    :mod:`emoscope.cli.options`); the dotted field path for values that came from elsewhere (--set)."""
    command = typer.main.get_command(app)
    for word in args:
        subcommand = getattr(command, "commands", {}).get(word)
        if subcommand is None:
            break
        command = subcommand
    for param in command.params:
        if loc and param.name == loc[0]:
            return max(param.opts, key=len)
    return ".".join(map(str, loc))


def main(args: Sequence[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    args = sys.argv[1:] if args is None else list(args)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # standalone_mode=False hands typer's usage errors to us instead of printing a usage box
        code = app(args=args, standalone_mode=False)
    except NoArgsIsHelpError as exc:  # typer has printed the help already
        code = exc.exit_code
    except typer.TyperException as exc:  # a usage error: unknown option, value out of range...
        warn("error: " + " ".join(exc.format_message().split()))
        code = exc.exit_code
    except typer.Abort:
        warn("Aborted!")
        code = 1
    except ValidationError as exc:  # an options model rejected a value
        error = exc.errors()[0]
        warn(f"error: {option_name(args, error['loc'])}: {error['msg']}")
        code = USAGE_ERROR
    except EmoscopeError as exc:
        warn(f"error: {exc}")
        code = exc.exit_code
    except MemoryError:
        warn("error: out of memory; use a smaller --batch-size or --limit")
        code = EXIT_OUTPUT_FAILED
    except OSError as exc:
        if os.environ.get("EMOSCOPE_DEBUG"):
            raise
        warn(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        code = EXIT_OUTPUT_FAILED
    if code == INTERRUPTED:  # typer turns Ctrl+C (and SIGTERM, see _interrupt) into this exit code
        warn("interrupted")
    sys.exit(code if isinstance(code, int) else 0)  # app() returns the command's result (None) or an exit code
