"""Damaged inputs for the fault-injection tests, written from one good model, and the one check every
refusal must pass.

The bundles are written with safetensors directly, not through :class:`ModelSpec`, so their metadata
can hold what ModelSpec refuses (an std of 0, NaN, duplicate classes).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from emoscope.data.labels import FER7
from emoscope.errors import ModelError
from emoscope.runtime.spec import SPEC_KEY

GOOD_SPEC = {"name": "fault", "architecture": "fer_fast_net", "label_set": FER7.name, "classes": list(FER7.classes),
             "in_chans": 1, "img_size": 48, "mean": 0.5, "std": 0.5}
"""The metadata of a healthy untrained bundle; each fault changes one field."""


def good_weights() -> dict:
    """The state dict of an untrained fer_fast_net matching :data:`GOOD_SPEC`."""
    import torch

    import emoscope

    torch.manual_seed(0)
    model = emoscope.create_model("fer_fast_net", num_classes=len(FER7), in_chans=1, img_size=48)
    return {key: tensor.detach().clone().contiguous() for key, tensor in model.state_dict().items()}


def write_bundle(path: Path, tensors: dict, **spec_changes) -> Path:
    """A bundle holding ``tensors`` and :data:`GOOD_SPEC` with ``spec_changes``, written as is."""
    from safetensors.torch import save_file

    metadata = json.dumps({**GOOD_SPEC, **spec_changes})  # json writes NaN as the bare word NaN
    save_file(tensors, str(path), metadata={SPEC_KEY: metadata})
    return path


class WritesMarker:
    """Unpickling this opens ``path`` for writing: proof that a loader ran code from a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def write_pickle_payload(path: Path, marker: Path) -> Path:
    """A pickle that creates ``marker`` if anything ever unpickles it."""
    path.write_bytes(pickle.dumps({"config": "{}", "model": WritesMarker(marker)}))
    return path


def assert_refused(run: CompletedProcess, fragment: str, code: int = 2) -> None:
    """How emoscope refuses bad input: ``code``, one ``error:`` line on stderr naming it, no traceback."""
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.returncode == code, run.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-3000:]
    assert fragment in lines[0], lines[0]


def assert_load_refused(path: Path, fragment: str) -> None:
    """The in-process twin of :func:`assert_refused`: loading ``path`` raises one ModelError line that
    names the file and ``fragment``."""
    import emoscope

    with pytest.raises(ModelError) as refusal:
        emoscope.load(str(path))
    message = str(refusal.value)
    assert fragment in message and str(path) in message and "\n" not in message, message
