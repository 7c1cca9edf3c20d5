"""Shared test helpers: synthetic, learnable image sets for fast tests that need no real data, and
the one way tests run the `emoscope` command line."""

import os
import signal
import subprocess
import sys

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7, LabelSet


def synthetic_imageset(n: int = 140, size: int = 32, label_set: LabelSet = FER7, seed: int = 0) -> ImageSet:
    """Noisy gray images where class *c* shows a bright square at its own position."""
    rng = np.random.default_rng(seed)
    k = len(label_set)
    labels = np.arange(n) % k
    images = rng.integers(0, 90, size=(n, size, size)).astype(np.uint8)
    side = size // 4
    for i, c in enumerate(labels):
        y, x = divmod(int(c), 3)
        images[i, y * side + 2 : y * side + 2 + side, x * side + 2 : x * side + 2 + side] = 230
    return ImageSet(images, labels, label_set, source=f"synthetic-{seed}")


def run_emoscope(*args, cwd=None, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m emoscope ARGS`` in a fresh process, as a user runs it: exit code, stdout, stderr.

    ``env`` adds variables (e.g. ``EMOSCOPE_WEIGHTS``) to this process's environment.
    """
    return subprocess.run([sys.executable, "-m", "emoscope", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)


def default_ctrl_c() -> None:
    """``preexec_fn`` for a child a test will send SIGINT: Ctrl+C's default action in the child.

    A suite started in the background (``nohup make test &``, a build server) runs with SIGINT ignored,
    every child inherits that, and Python then installs no KeyboardInterrupt handler: the SIGINT the
    test sends would be lost.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


TIMING = {"created", "seconds", "processing_fps"}
"""The only report fields that differ between two runs of the same analysis."""


def without_timing(value):
    """A report's JSON (dicts and lists) without its :data:`TIMING` fields, for comparing two runs."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value
