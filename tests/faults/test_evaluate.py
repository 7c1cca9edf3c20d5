"""Evaluation on splits that leave metrics undefined: an empty split is refused, a one-class split is
reported with ``null`` for what it cannot measure, and every report is strict JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from bad_files import assert_refused, good_weights, write_bundle
from helpers import run_emoscope
from hypothesis import given
from hypothesis import strategies as st

from emoscope.evaluation.metrics import undefined_as_none


def _strict_json(text: str):
    """Python's json reads NaN and Infinity, which no other JSON reader does; refuse them here."""
    def refuse(constant):
        raise AssertionError(f"report holds {constant}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("model") / "model.safetensors", good_weights())


def _csv(folder: Path, writer, test_labels: list[int]) -> Path:
    """A FER2013 CSV with a full training split and a PrivateTest (test) split of ``test_labels``."""
    labels = [*range(7), *test_labels]
    usage = ["Training"] * 7 + ["PrivateTest"] * len(test_labels)
    images = np.random.default_rng(0).integers(0, 256, size=(len(labels), 48, 48), dtype=np.uint8)
    return writer(folder / "fer2013.csv", labels, usage, images)


def test_an_empty_split_is_refused(bundle, fer2013_csv_writer, tmp_path):
    out = tmp_path / "eval"
    run = run_emoscope("evaluate", bundle, "--dataset", _csv(tmp_path, fer2013_csv_writer, []), "--out", out)
    assert_refused(run, "no images to evaluate")
    assert not out.exists()


def test_a_one_class_split_reports_null_for_undefined_metrics(bundle, fer2013_csv_writer, tmp_path):
    out = tmp_path / "eval"
    run = run_emoscope("evaluate", bundle, "--dataset", _csv(tmp_path, fer2013_csv_writer, [3] * 5), "--out", out)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "ROC-AUC n/a" in " ".join(run.stdout.split())
    (path,) = out.glob("*.json")
    report = _strict_json(path.read_text())
    assert report["n"] == 5 and math.isfinite(report["accuracy"])
    assert report["roc_auc_macro_ovr"] is None and report["per_class"]["happy"]["roc_auc"] is None


JSON_LEAVES = st.floats() | st.integers() | st.text(max_size=3) | st.none() | st.booleans()


@given(st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=3), inner, max_size=3), max_leaves=12))
def test_undefined_as_none_makes_strict_json_and_keeps_every_finite_number(value):
    cleaned = undefined_as_none(value)
    text = json.dumps(cleaned, allow_nan=False)  # raises on any NaN or infinity left
    assert _strict_json(text) == json.loads(json.dumps(cleaned))
    if isinstance(value, float):
        assert cleaned == (value if math.isfinite(value) else None)


def test_numpy_scalars_become_python_numbers():
    cleaned = undefined_as_none({"auc": np.float32("nan"), "n": np.int64(3), "f1": np.float64(0.5)})
    assert cleaned == {"auc": None, "n": 3, "f1": 0.5} and type(cleaned["n"]) is int
