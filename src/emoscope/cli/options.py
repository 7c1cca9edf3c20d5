"""What the command modules share: consoles, the progress bar, the recorded command line, ``key=value``
parsing, and choice lists taken from the library's registries, so help text and checks never drift
from what the library accepts.

Validation rule: an option that fills a field of a pydantic options model (``AnalysisOptions``,
``ReportOptions``, ``TrainConfig``, ``GestureOptions``...) has that field's name as its Python
parameter, so :func:`emoscope.cli.main.main` can name the flag when the model rejects a value.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Sequence

import typer
from rich.console import Console

from emoscope.errors import EmoscopeError
from emoscope.faces import list_detectors
from emoscope.runtime.predictor import BACKENDS
from emoscope.runtime.tta import TTA_MODES
from emoscope.video.sinks import FRAME_TABLE_FORMATS

console = Console()
err_console = Console(stderr=True)


def warn(line: str) -> None:
    """One line on stderr, printed as is (paths and messages may contain brackets)."""
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def command_line() -> str:
    """The command as typed, recorded in reports and checkpoints so a run can be repeated."""
    return "emoscope " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def parse_key_values(pairs: Sequence[str], option: str, typed: bool = False, form: str = "key=value") -> dict:
    """``key=value`` pairs of a repeatable option into a dict (``form`` names the pair in errors).

    ``typed``: values are JSON where they parse (``0.2``, ``true``, ``[1, 2]``) and dotted keys nest
    (``augment.rotate=15``), as ``train --set`` needs; otherwise keys and values stay plain text.
    """
    data: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise EmoscopeError(f"{option} expects {form}, got {pair!r}")
        if not typed:
            data[key] = raw
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string such as a model name
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, nested dicts merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge(out[key], value) if nested else value
    return out


def check_choice(value: str, choices: Sequence[str], what: str) -> str:
    """``value`` when it is one of ``choices``; a one-line error naming ``what`` otherwise."""
    if value not in choices:
        raise EmoscopeError(f"unknown {what} {value!r} (choose {', '.join(choices)})")
    return value


def positive(value: float | None) -> float | None:
    """A typer callback for amounts that must be finite and above zero: typer's ``min=`` includes zero
    and lets ``inf`` through, and ``nan`` compares False with any bound."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value:g} is not a finite number above 0")
    return value


DETECTORS = list_detectors()
DETECTOR_HELP = " | ".join(DETECTORS)
TTA_HELP = " | ".join(TTA_MODES)
FRAMES_HELP = " | ".join([*FRAME_TABLE_FORMATS, "none"])
BACKEND_HELP = " | ".join(BACKENDS) + " (fastest: ONNX Runtime when exported, else auto)"
MODEL_HELP = "shipped model name, .safetensors bundle or .onnx file"
DEFAULT_MODEL_HELP = "shipped name, .safetensors or .onnx (default: best shipped)"
ARCHITECTURE_HELP = "registered architecture (`emoscope models` lists them)"


def with_cue_flags(command):
    """A typer command that also takes a flag per cue option declared with ``flag``
    (:func:`emoscope.cues.base.cue_option`: a switch as ``--name/--no-name``), named, typed, defaulted and
    explained by its cue, and hands their values to ``command`` as ``cue_options`` (a dict for
    ``AnalysisOptions``). The cues registered when the CLI is built are the ones it offers."""
    import functools
    import inspect

    from emoscope.cues.base import is_flag, option_fields

    flags = {name: field for name, field in option_fields().items() if is_flag(field)}
    signature = inspect.signature(command)
    parameters = [p for p in signature.parameters.values() if p.name != "cue_options"]
    for name, field in flags.items():
        dashed = name.replace("_", "-")
        declaration = f"--{dashed}/--no-{dashed}" if field.annotation is bool else f"--{dashed}"
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=field.annotation,
                                            default=typer.Option(field.default, declaration, help=field.description)))

    @functools.wraps(command)
    def with_flags(**values):
        return command(**{name: value for name, value in values.items() if name not in flags},
                       cue_options={name: values[name] for name in flags})

    with_flags.__signature__ = signature.replace(parameters=parameters)
    return with_flags
