"""Shared fixtures: the real data root (or a skip), and tiny FER2013 / FER+ / Sign MNIST files."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FER_USAGES = ("Training", "PublicTest", "PrivateTest")
FERPLUS_COLUMNS = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
FER7_AS_FERPLUS_COLUMN = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
"""The FER+ vote column of each FER2013 class (FER7 order)."""


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real dataset folder (``$EMOSCOPE_DATA`` or ``../shared/data``); skips the test when absent."""
    from emoscope.data import data_root as find_data_root

    root = find_data_root()
    if not root.is_dir():
        pytest.skip(f"EMOSCOPE_DATA not found: {root}; real-data tests skipped")
    return root


def run_cli_here(*args, cwd: Path | None = None) -> tuple[int, str]:
    """``emoscope ARGS`` in this process: (exit code, stderr). For refusals, which come before any work: a
    new interpreter would spend ~7 s importing torch and the rest. main()'s SIGTERM handler and the working
    folder are put back afterwards."""
    from emoscope.cli.main import main

    handler, folder, stderr = signal.getsignal(signal.SIGTERM), os.getcwd(), io.StringIO()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit:
            main([str(arg) for arg in args])
    finally:
        os.chdir(folder)
        signal.signal(signal.SIGTERM, handler)
    return exit.value.code, stderr.getvalue()


def write_fer2013_csv(path: Path, labels: Sequence[int], usage: Sequence[str], images: np.ndarray) -> Path:
    """A FER2013-format CSV (gzipped when the name ends in .gz) of (N, 48, 48) uint8 images."""
    pixels = [" ".join(map(str, image.ravel())) for image in images]
    pd.DataFrame({"emotion": labels, "pixels": pixels, "Usage": usage}).to_csv(path, index=False)
    return path


def clear_votes(labels: Sequence[int]) -> np.ndarray:
    """FER+ vote rows (file column order) that the majority rule maps back to each FER7 label.

    7 votes for the class, 2 for a second emotion and 1 stray contempt vote (an outlier).
    """
    votes = np.zeros((len(labels), len(FERPLUS_COLUMNS)), dtype=np.int64)
    for row, label in enumerate(labels):
        winner = FERPLUS_COLUMNS.index(FER7_AS_FERPLUS_COLUMN[label])
        runner_up = FERPLUS_COLUMNS.index("happiness" if winner == 0 else "neutral")
        votes[row, [winner, runner_up, FERPLUS_COLUMNS.index("contempt")]] = (7, 2, 1)
    return votes


def write_ferplus_csv(path: Path, usage: Sequence[str], votes: np.ndarray) -> Path:
    """A FER+ ``fer2013new.csv`` with the given Usage column and (N, 10) votes in file column order."""
    frame = pd.DataFrame(votes, columns=list(FERPLUS_COLUMNS))
    frame.insert(0, "Image name", [f"fer{row:07d}.png" for row in range(len(usage))])
    frame.insert(0, "Usage", list(usage))
    frame.to_csv(path, index=False)
    return path


@dataclass
class TinyFer:
    fer2013: Path
    ferplus: Path
    labels: np.ndarray
    usage: list[str]
    images: np.ndarray
    votes: np.ndarray


@pytest.fixture
def tiny_fer_csv(tmp_path: Path) -> TinyFer:
    """70 FER2013 rows (10 per class; 42 Training, 14 PublicTest, 14 PrivateTest, every class in
    each) and a row-aligned FER+ file whose majority label equals the FER2013 label on every row."""
    rng = np.random.default_rng(0)
    labels = np.arange(70) % 7
    usage = [FER_USAGES[0] if row < 42 else FER_USAGES[1] if row < 56 else FER_USAGES[2] for row in range(70)]
    images = rng.integers(0, 256, size=(70, 48, 48), dtype=np.uint8)
    votes = clear_votes(labels)
    return TinyFer(
        fer2013=write_fer2013_csv(tmp_path / "fer2013.csv", labels, usage, images),
        ferplus=write_ferplus_csv(tmp_path / "fer2013new.csv", usage, votes),
        labels=labels,
        usage=usage,
        images=images,
        votes=votes,
    )


@pytest.fixture
def fer2013_csv_writer() -> Callable[..., Path]:
    return write_fer2013_csv


@pytest.fixture
def ferplus_csv_writer() -> Callable[..., Path]:
    return write_ferplus_csv


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A private cache folder, so tests never touch ``~/.cache/emoscope``."""
    return tmp_path / "cache"


SLOWEST_FILES = ("test_replication.py", "web/test_soak.py", "test_ray_engine.py", "test_cli.py", "test_training.py",
                 "faults/test_videos_and_outputs.py", "faults/test_numeric_options.py", "test_shipped_models.py",
                 "web/test_api.py", "gui/test_faults.py", "web/test_ray_jobs.py", "test_ddp.py")
"""The longest test files, longest first (seconds per file: `pytest --durations=0`), started first. With
pytest-xdist's ``--dist loadfile --no-loadscope-reorder`` (the Makefile's) a file goes to the next free worker
in collection order, so a long file collected last would leave the other worker idle at the end. (Without
``--no-loadscope-reorder`` xdist orders files by their number of tests, which puts one-test files such as the
soak, a minute long, last.)"""
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.relative_to(TESTS).as_posix()
        return SLOWEST_FILES.index(name) if name in SLOWEST_FILES else len(SLOWEST_FILES)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
