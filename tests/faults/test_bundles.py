"""Damaged model files through the command line: every bad metadata field, every bad weights tensor and
every inconsistent ONNX graph is refused when the file is opened, as one `error:` line and exit 2;
weights that only break at inference are refused at the first prediction, and nothing is left under
the output name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from bad_files import (
    GOOD_SPEC,
    assert_load_refused,
    assert_refused,
    good_weights,
    write_bundle,
    write_pickle_payload,
)
from helpers import run_emoscope

import emoscope
from emoscope.errors import ModelError
from emoscope.runtime.spec import SPEC_KEY

# (case, metadata changes, what the error line names)
BAD_METADATA = [
    ("std 0", {"std": 0.0}, "std"),
    ("std NaN", {"std": math.nan}, "std"),
    ("mean infinite", {"mean": math.inf}, "mean"),
    ("duplicate classes", {"classes": [*GOOD_SPEC["classes"][:-1], "angry"]}, "duplicate class names: angry"),
    ("no classes", {"classes": []}, "classes"),
    ("empty class name", {"classes": [*GOOD_SPEC["classes"][:-1], " "]}, "class names must not be empty"),
    ("img_size 0", {"img_size": 0}, "img_size"),
    ("img_size 100000", {"img_size": 100000}, "img_size"),
    ("in_chans 2", {"in_chans": 2}, "in_chans"),
    ("unknown architecture", {"architecture": "no_such_net"}, "unknown model 'no_such_net'"),
    ("arch_kwargs unknown keyword", {"arch_kwargs": {"bogus": 1}}, "unexpected keyword argument 'bogus'"),
    ("arch_kwargs drop_rate 1.5", {"arch_kwargs": {"drop_rate": 1.5}}, "dropout probability"),
    ("img_size too small for the architecture", {"architecture": "vgg19_bn", "img_size": 16}, "Output size is too small"),
    ("in_chans 3 for 1-channel weights", {"in_chans": 3}, "has shape"),
    ("not valid JSON", None, "not JSON"),
]


def _nan_first_tensor(tensors: dict) -> dict:
    key = next(k for k, t in tensors.items() if t.is_floating_point())
    return {**tensors, key: tensors[key].clone().fill_(math.nan)}


def _transposed_classifier(tensors: dict) -> dict:
    key = next(k for k, t in tensors.items() if t.ndim == 2)
    return {**tensors, key: tensors[key].t().contiguous()}


def _without_one_tensor(tensors: dict) -> dict:
    return dict(list(tensors.items())[1:])


BAD_WEIGHTS = [
    ("NaN weights", _nan_first_tensor, "NaN or infinite values"),
    ("weights of the wrong shape", _transposed_classifier, "has shape"),
    ("a tensor missing", _without_one_tensor, "1 missing"),
]


@pytest.fixture(scope="module")
def weights() -> dict:
    return good_weights()


@pytest.fixture(scope="module")
def overflowing_bundle(weights, tmp_path_factory) -> Path:
    """Finite weights so large that activations overflow: the load succeeds, every output is inf or NaN."""
    huge = {key: tensor * 1e30 if tensor.is_floating_point() and "running_var" not in key else tensor
            for key, tensor in weights.items()}
    return write_bundle(tmp_path_factory.mktemp("overflow") / "overflow.safetensors", huge)


def _bad_bundle(folder: Path, weights: dict, case: str) -> Path:
    """The bundle of a BAD_METADATA or BAD_WEIGHTS case."""
    path = folder / "bad.safetensors"
    if case in DAMAGES:
        return write_bundle(path, DAMAGES[case](weights))
    changes = METADATA_CHANGES[case]
    if changes is None:
        from safetensors.torch import save_file

        save_file(weights, str(path), metadata={SPEC_KEY: "{not json"})
        return path
    return write_bundle(path, weights, **changes)


CASES = [(case, fragment) for case, _, fragment in BAD_METADATA + BAD_WEIGHTS]
METADATA_CHANGES = {case: changes for case, changes, _ in BAD_METADATA}
DAMAGES = {case: damage for case, damage, _ in BAD_WEIGHTS}
THROUGH_THE_CLI = {"std 0", "std NaN", "duplicate classes", "no classes", "img_size 0", "img_size 100000",
                   "in_chans 2", "unknown architecture", "arch_kwargs unknown keyword", "NaN weights",
                   "weights of the wrong shape"}
"""The cases the issue names run as a user runs them (~2 s each); the rest take the same code path,
checked in-process to keep the suite fast."""


@pytest.mark.parametrize("case, fragment", CASES, ids=[case for case, _ in CASES])
def test_a_bad_bundle_is_refused_on_load_in_one_line(case, fragment, weights, tmp_path):
    assert_load_refused(_bad_bundle(tmp_path, weights, case), fragment)


@pytest.mark.parametrize("case, fragment", [c for c in CASES if c[0] in THROUGH_THE_CLI],
                         ids=[case for case, _ in CASES if case in THROUGH_THE_CLI])
def test_info_refuses_a_bad_bundle(case, fragment, weights, tmp_path):
    path = _bad_bundle(tmp_path, weights, case)
    run = run_emoscope("info", path)
    assert_refused(run, fragment)
    assert str(path) in run.stderr


def test_a_pickle_named_like_a_model_never_runs(tmp_path):
    marker = tmp_path / "marker"
    for suffix in (".safetensors", ".onnx"):
        path = write_pickle_payload(tmp_path / f"payload{suffix}", marker)
        with pytest.raises(ModelError, match="payload"):
            emoscope.load(str(path))
    assert not marker.exists()


def test_evaluate_refuses_a_model_whose_outputs_are_not_finite(overflowing_bundle, tiny_fer_csv, tmp_path):
    out = tmp_path / "eval"
    run = run_emoscope("evaluate", overflowing_bundle, "--dataset", tiny_fer_csv.fer2013, "--out", out)
    assert_refused(run, "NaN or infinite outputs")
    assert not out.exists()


def test_export_refuses_non_finite_outputs_and_leaves_no_file(overflowing_bundle, tmp_path):
    run = run_emoscope("export", overflowing_bundle, "--out", tmp_path / "out" / "model.onnx")
    assert_refused(run, "NaN or infinite outputs")
    assert not any((tmp_path / "out").iterdir())  # neither the final name nor the unchecked scratch file


def test_every_predictor_refuses_non_finite_outputs(overflowing_bundle, weights, tmp_path):
    """Torch, ONNX Runtime and an ensemble share one check on the raw outputs."""
    from emoscope.runtime.bundle import load_bundle, save_bundle
    from emoscope.runtime.ensemble import build_ensemble
    from emoscope.runtime.onnx_runtime import export_onnx

    model, spec = load_bundle(overflowing_bundle)
    onnx_path = export_onnx(model, spec, tmp_path / "overflow.onnx")
    good = write_bundle(tmp_path / "good.safetensors", weights)
    ensemble = save_bundle(*build_ensemble([good, overflowing_bundle], "pair"), tmp_path / "pair.safetensors")
    faces = np.zeros((2, 48, 48), np.uint8)
    for path, backend in ((overflowing_bundle, "torch"), (onnx_path, "onnx"), (ensemble, "torch")):
        predictor = emoscope.load(str(path), backend=backend)
        with pytest.raises(ModelError, match="NaN or infinite outputs"):
            predictor.predict_proba(faces)


# -- ONNX --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_files(weights, tmp_path_factory) -> dict[str, Path]:
    """A good export and copies whose metadata is missing or disagrees with the graph."""
    import onnx
    import torch

    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.spec import ModelSpec

    folder = tmp_path_factory.mktemp("onnx")
    spec = ModelSpec(**GOOD_SPEC)
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48)
    model.load_state_dict(weights)
    good = export_onnx(model, spec, folder / "good.onnx")
    torch.manual_seed(0)
    colour = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=3, img_size=64)
    colour_64 = export_onnx(colour, spec.model_copy(update={"in_chans": 3, "img_size": 64}), folder / "colour.onnx")

    def rewritten(source: Path, name: str, metadata: str | None) -> Path:
        proto = onnx.load(str(source))
        del proto.metadata_props[:]
        if metadata is not None:
            entry = proto.metadata_props.add()
            entry.key, entry.value = SPEC_KEY, metadata
        onnx.save(proto, str(folder / name))
        return folder / name

    garbage = folder / "garbage.onnx"
    garbage.write_bytes(b"this is not an onnx model" * 10)
    return {
        "good": good,
        "not ONNX": garbage,
        "no metadata": rewritten(good, "bare.onnx", None),
        "metadata 48x48x1, graph 64x64x3": rewritten(colour_64, "shape.onnx", spec.to_json()),
        "metadata 8 classes, graph 7": rewritten(
            good, "classes.onnx", json.dumps({**GOOD_SPEC, "classes": [*GOOD_SPEC["classes"], "contempt"]})),
    }


BAD_ONNX = [
    ("not ONNX", "not a loadable ONNX model"),
    ("no metadata", "no emoscope metadata"),
    ("metadata 48x48x1, graph 64x64x3", "input has shape"),
    ("metadata 8 classes, graph 7", "output has shape"),
]
ONNX_THROUGH_THE_CLI = BAD_ONNX[:3]


@pytest.mark.parametrize("case, fragment", BAD_ONNX, ids=[c[0] for c in BAD_ONNX])
def test_bad_onnx_is_refused_on_load_in_one_line(case, fragment, onnx_files):
    assert_load_refused(onnx_files[case], fragment)


@pytest.mark.parametrize("case, fragment", ONNX_THROUGH_THE_CLI, ids=[c[0] for c in ONNX_THROUGH_THE_CLI])
def test_evaluate_refuses_bad_onnx(case, fragment, onnx_files, tiny_fer_csv, tmp_path):
    out = tmp_path / "eval"
    run = run_emoscope("evaluate", onnx_files[case], "--dataset", tiny_fer_csv.fer2013, "--out", out)
    assert_refused(run, fragment)
    assert str(onnx_files[case]) in run.stderr and not out.exists()


def test_the_good_export_still_predicts(onnx_files):
    """The control: the files above are refused for their damage, not for being exports."""
    probs = emoscope.load(str(onnx_files["good"]), backend="onnx").predict_proba(np.zeros((2, 48, 48), np.uint8))
    assert np.isfinite(probs).all() and probs.shape == (2, 7)
