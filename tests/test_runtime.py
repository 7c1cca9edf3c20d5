import subprocess
import sys

import numpy as np
import pytest

import emoscope
from emoscope.errors import ModelError
from emoscope.runtime.bundle import load_bundle, read_spec, save_bundle
from emoscope.runtime.onnx_runtime import export_onnx
from emoscope.runtime.predictor import TorchPredictor, load_predictor
from emoscope.runtime.spec import ModelSpec
from emoscope.runtime.tta import tta_views


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    spec = ModelSpec(name="t", architecture="fer_fast_net", label_set="fer2013",
                     classes=["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
                     metrics={"accuracy": 0.5, "split": "x"})
    path = tmp_path_factory.mktemp("b") / "t.safetensors"
    save_bundle(model, spec, path)
    return path


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    # Mixed sizes and channel layouts: the predictor must prepare them all the same way.
    return [rng.integers(0, 256, (60, 50), dtype=np.uint8), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8),
            rng.integers(0, 256, (30, 30, 1), dtype=np.uint8)]


def test_bundle_round_trip(bundle, faces):
    spec = read_spec(bundle)
    assert spec.architecture == "fer_fast_net" and spec.img_size == 48 and spec.metrics["accuracy"] == 0.5
    model, spec2 = load_bundle(bundle)
    assert spec2 == spec and not model.training
    probs = emoscope.load(str(bundle)).predict_proba(faces)
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)


def test_half_precision_bundle_is_close(bundle, faces, tmp_path):
    model, spec = load_bundle(bundle)
    half = save_bundle(model, spec, tmp_path / "h.safetensors", half=True)
    assert half.stat().st_size < bundle.stat().st_size * 0.6
    a = TorchPredictor(model, spec, bundle).predict_proba(faces)
    b = emoscope.load(str(half)).predict_proba(faces)
    assert np.abs(a - b).max() < 1e-2


def test_onnx_export_agrees_with_torch(bundle, faces, tmp_path):
    model, spec = load_bundle(bundle)
    onnx_path = export_onnx(model, spec, tmp_path / "t.onnx")
    torch_pred = emoscope.load(str(bundle), backend="torch")
    onnx_pred = load_predictor(onnx_path, backend="onnx")
    assert onnx_pred.spec == spec
    for tta in ("none", "hflip", "tencrop"):
        diff = np.abs(torch_pred.predict_proba(faces, tta=tta) - onnx_pred.predict_proba(faces, tta=tta)).max()
        assert diff < 1e-4, (tta, diff)


def test_onnx_predictor_runs_without_torch(bundle, tmp_path):
    model, spec = load_bundle(bundle)
    onnx_path = export_onnx(model, spec, tmp_path / "t.onnx")
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "import numpy as np, emoscope\n"
        f"p = emoscope.load({str(onnx_path)!r})\n"
        "print(p.backend, p.predict(np.zeros((2, 48, 48), np.uint8)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("onnx [")


def test_tencrop_views_keep_shape():
    batch = np.random.default_rng(0).random((2, 1, 48, 48), dtype=np.float32)
    views = tta_views(batch, "tencrop")
    assert len(views) == 10 and all(v.shape == batch.shape for v in views)
    np.testing.assert_array_equal(views[0], batch)  # the centre view is the image itself


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\x10\x00\x00\x00\x00\x00\x00\x00{}"])
def test_bad_model_files_are_clear_errors(tmp_path, content):
    for suffix in (".safetensors", ".onnx"):
        path = tmp_path / f"bad{suffix}"
        path.write_bytes(content)
        with pytest.raises(ModelError, match="bad"):
            emoscope.load(str(path))


def test_unknown_names_and_mismatched_weights(bundle, tmp_path):
    with pytest.raises(ModelError, match="unknown model"):
        emoscope.load("no-such-model")
    with pytest.raises(ModelError, match="no such model file"):
        emoscope.load(str(tmp_path / "missing.safetensors"))
    other = emoscope.create_model("simple_cnn5", num_classes=7)
    spec = read_spec(bundle)
    wrong = save_bundle(other, spec, tmp_path / "wrong.safetensors")  # fer_fast_net spec, other weights
    with pytest.raises(ModelError, match="do not fit"):
        load_bundle(wrong)
