"""Numbers that no run could use, for every numeric option of every command: each is refused with exit
code 2 and one `error:` line naming the option, before any model, dataset or video is opened.

The options are found by walking the typer app, so a new option is covered the day it is added. Every
one is tried with nan, inf, -inf and -1 (no option takes a negative number: each is a count, a size,
a rate, a duration, a probability or a seed), 0 unless the tables below say it is meaningful, and a
value above its cap where it has one. Hypothesis then draws more numbers from the same refused ranges.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.core import TyperOption

from helpers import run_emoscope

cli = importlib.import_module("emoscope.cli.main")  # `emoscope.cli.main` as an attribute is the entry function

# Options where 0 is a value a run can use, beyond those whose default is 0 (a default is valid by
# definition: train --folds, panic cv --threads, bench video --long-minutes).
ZERO_IS_MEANINGFUL = {
    ("analyze", "--min-episode"): "every run of one label is an episode, however short",
    ("train", "--seed"): "a seed like any other",
    ("train", "--drop-rate"): "no dropout",
    ("pack", "--teacher-weight"): "the soft labels are the labels alone",
    ("panic cv", "--target-recall"): "the strictest threshold that still flags one panic face",
    ("panic threshold", "--target-recall"): "the strictest threshold that still flags one panic face",
    ("serve", "--port"): "the system picks a free port",
    ("bench serve", "--videos"): "photos only",
    ("bench pipeline", "--seed"): "a seed like any other",
    ("bench robustness", "--seed"): "a seed like any other",
    ("bench faces", "--seed"): "a seed like any other",
}

# The largest value each capped option takes: probabilities and shares stop at 1; the others size
# something that is allocated or written whole (images, batches, threads, a synthetic video) or are
# seeds, which NumPy's legacy generators take only below 2**32.
LARGEST_VALID = {
    ("analyze", "--panic-threshold"): 1,
    ("analyze", "--crowd-level"): 1,
    ("panic cv", "--target-recall"): 1,
    ("panic threshold", "--target-recall"): 1,
    ("train", "--drop-rate"): 1,
    ("pack", "--teacher-weight"): 1,
    ("pack", "--bits"): 8,
    ("models", "--img-size"): 512,
    ("train", "--img-size"): 512,
    ("models", "--classes"): 1000,
    ("train", "--batch-size"): 2**16,
    ("evaluate", "--bootstrap"): 100_000,
    ("train", "--seed"): 2**32 - 1,
    ("panic cv", "--threads"): 1024,
    ("bench video", "--long-minutes"): 24 * 60,
    ("bench video", "--long-fps"): 240,
    ("serve", "--port"): 65535,
    ("serve", "--workers"): 64,
    ("bench serve", "--concurrency"): 256,
    ("bench serve", "--videos"): 32,
    ("bench serve", "--candidates"): 200,
    ("bench serve", "--workers"): 64,
    ("bench pipeline", "--faces"): 10_000,
    ("bench pipeline", "--seed"): 2**32 - 1,
    ("bench robustness", "--faces"): 10_000,
    ("bench robustness", "--seed"): 2**32 - 1,
    ("bench faces", "--bootstrap"): 100_000,
    ("bench faces", "--seed"): 2**32 - 1,
    ("bench classify", "--seconds"): 600,
    ("analyze", "--detect-every"): 1000,
    ("bench api", "--count"): 10_000,
    ("bench api", "--repeats"): 100,
    ("bench fuzz", "--cases"): 100_000,
    ("bench fuzz", "--seed"): 2**32 - 1,
    ("bench fuzz", "--time-limit"): 3600,
    ("bench soak", "--minutes"): 24 * 60,
    ("bench soak", "--max-seconds"): 3600,
    ("bench soak", "--upload-every"): 3600,
    ("bench soak", "--photo-every"): 3600,
    ("bench soak", "--read-every"): 3600,
    ("ship", "--max-file-mb"): 100_000,
}

# The cheapest other arguments of each command. Each makes a run whose check is missing fail fast on
# something else (an empty video, a model or dataset that is not there), which an error line that
# does not name the option tells apart. EMOSCOPE_DATA is an empty folder (see `sandbox`).
CHEAP_ARGS = {
    "analyze": ["{sandbox}/empty.mp4"],
    "bench video": ["{sandbox}/empty.mp4", "--model", "{sandbox}/none.onnx"],
    "gesture": ["{sandbox}/empty.png"],
    "panic cv": [],
    "panic threshold": ["{sandbox}/none.safetensors"],
    "train": ["--dataset", "{sandbox}/none.csv"],
    "pack": ["{sandbox}/none.csv", "--out", "{sandbox}/out.emopack"],
    "models": ["fer_fast_net"],  # one architecture: every one at --img-size 512 takes a minute and a half
    "evaluate": ["{sandbox}/none.safetensors"],
    "serve": ["--host", "0.0.0.0"],  # refused without a token before it binds
    "bench serve": ["--video", "{sandbox}/empty.mp4"],
    "bench pipeline": ["--model", "{sandbox}/none.safetensors"],
    "bench robustness": ["{sandbox}/none.safetensors"],
    "bench faces": ["{sandbox}/none.tar.gz"],
    "bench classify": ["{sandbox}/none.safetensors"],
    "bench api": ["{sandbox}/none"],
    "bench fuzz": ["--clip", "{sandbox}/empty.mp4", "--out", "{sandbox}/fuzz.json"],
    "bench soak": ["{sandbox}/empty.mp4", "--out", "{sandbox}/soak.json"],
    "live": ["{sandbox}/empty.mp4"],
    "ship": ["{sandbox}/none.safetensors", "--name", "never-shipped"],
    "replicate": ["no-such-study"],
}

SECONDS_BEFORE_ANY_WORK = 5  # in-process; the first call of a command also imports its modules
ABSURD = 10**12  # above every cap


@dataclass(frozen=True)
class NumericOption:
    command: str  # as typed, e.g. "bench video"
    flag: str
    number: type  # int or float
    default: object

    @property
    def key(self) -> tuple[str, str]:
        return self.command, self.flag

    @property
    def zero_refused(self) -> bool:
        return self.default != 0 and self.key not in ZERO_IS_MEANINGFUL

    def __str__(self) -> str:
        return f"{self.command} {self.flag}"


def leaf_commands(command, path: tuple[str, ...] = ()):
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, subcommand in subcommands.items():
        yield from leaf_commands(subcommand, (*path, name))


def numeric_options() -> list[NumericOption]:
    """Every int or float option of every command (this typer describes a parameter's Python type in
    ``type_descriptor``; ``Optional[float]`` appears as ``float``)."""
    return [NumericOption(path, max(param.opts, key=len), param.type_descriptor.annotation, param.default)
            for path, command in leaf_commands(typer.main.get_command(cli.app))
            for param in command.params
            if isinstance(param, TyperOption) and param.type_descriptor.annotation in (int, float)]


def just_above(option: NumericOption, cap: float) -> str:
    return str(cap + 1) if option.number is int else repr(math.nextafter(cap, math.inf))


def refused_values(option: NumericOption) -> list[str]:
    values = ["nan", "inf", "-inf", "-1", *(["0"] if option.zero_refused else [])]
    if option.key in LARGEST_VALID:
        values += [just_above(option, LARGEST_VALID[option.key]), str(ABSURD)]
    return values


def refused_numbers(option: NumericOption) -> st.SearchStrategy:
    """Numbers from the ranges :func:`refused_values` samples; floats include nan and both infinities."""
    cap = LARGEST_VALID.get(option.key)
    if option.number is int:
        below = st.integers(max_value=0 if option.zero_refused else -1)
        return (below | st.integers(min_value=cap + 1)) if cap is not None else below
    # -0.0 equals 0, so where 0 is accepted the refused floats start at the first one below it
    below = st.floats(max_value=0 if option.zero_refused else -math.ulp(0.0), allow_nan=False)
    above = st.floats(min_value=cap, exclude_min=True, allow_nan=False) if cap is not None else st.nothing()
    return below | above | st.just(math.nan)


OPTIONS = numeric_options()
CASES = [(option, value) for option in OPTIONS for value in refused_values(option)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("numeric-options")
    (folder / "empty.mp4").touch()
    (folder / "empty.png").touch()
    (folder / "no-data").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMOSCOPE_DATA", str(folder / "no-data"))
        patch.chdir(folder)  # default output folders (runs/...) would land here, never in the repository
        yield folder


def command_line(option: NumericOption, value: str, sandbox: Path) -> list[str]:
    cheap = [arg.format(sandbox=sandbox) for arg in CHEAP_ARGS[option.command]]
    return [*option.command.split(), *cheap, f"{option.flag}={value}"]  # `=`: a value may start with '-'


def run_in_process(args: list[str]) -> tuple[int, str, float]:
    """``emoscope ARGS`` through the real entry point, in this process: exit code, stderr, seconds."""
    stderr = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        try:
            cli.main(args)
        except SystemExit as exit_:
            code = exit_.code
    return code, stderr.getvalue(), time.monotonic() - start


def assert_refused(option: NumericOption, code: int, stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2 and "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and option.flag in lines[0], stderr


def test_the_tables_name_only_options_that_exist():
    keys = {option.key for option in OPTIONS}
    assert set(ZERO_IS_MEANINGFUL) <= keys and set(LARGEST_VALID) <= keys
    assert {option.command for option in OPTIONS} == set(CHEAP_ARGS)


@pytest.mark.parametrize("option, value", CASES, ids=[f"{option}={value}" for option, value in CASES])
def test_a_refused_value_is_one_error_line_before_any_work(option, value, sandbox):
    code, stderr, seconds = run_in_process(command_line(option, value, sandbox))
    assert_refused(option, code, stderr)
    assert seconds < SECONDS_BEFORE_ANY_WORK


@pytest.mark.parametrize("option", OPTIONS, ids=str)
@settings(max_examples=15, deadline=None, database=None)
@given(data=st.data())
def test_any_number_out_of_range_is_refused(option, data, sandbox):
    number = data.draw(refused_numbers(option), label="value")
    code, stderr, _ = run_in_process(command_line(option, repr(number), sandbox))
    assert_refused(option, code, stderr)


BOUNDARIES = ([(option, "0") for option in OPTIONS if not option.zero_refused] +
              [(option, str(LARGEST_VALID[option.key])) for option in OPTIONS if option.key in LARGEST_VALID])


@pytest.mark.parametrize("option, value", BOUNDARIES, ids=[f"{option}={value}" for option, value in BOUNDARIES])
def test_the_values_at_each_bound_are_still_accepted(option, value, sandbox):
    """The option check lets them by; the run then succeeds (`models` does its work) or fails on the
    cheap arguments."""
    _, stderr, _ = run_in_process(command_line(option, value, sandbox))
    assert "Traceback" not in stderr and option.flag not in stderr, stderr


SUBPROCESS_CASES = [("analyze", "--fps", "nan"), ("train", "--lr", "inf"), ("models", "--img-size", "100000"),
                    ("bench video", "--long-fps", "-1"), ("panic cv", "--threads", "-1")]


@pytest.mark.parametrize("command, flag, value", SUBPROCESS_CASES, ids=[" ".join(case) for case in SUBPROCESS_CASES])
def test_the_real_entry_point_refuses_the_same_way(command, flag, value, sandbox):
    option = next(option for option in OPTIONS if option.key == (command, flag))
    run = run_emoscope(*command_line(option, value, sandbox), cwd=sandbox, timeout=60)
    assert_refused(option, run.returncode, run.stderr)
