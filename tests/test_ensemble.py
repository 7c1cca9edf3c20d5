"""Ensembles: one bundle whose probabilities are exactly the mean of its members'."""

import numpy as np
import pytest

import emoscope
from emoscope.errors import ModelError
from emoscope.runtime.bundle import bundle_files, read_tensors, save_bundle
from emoscope.runtime.ensemble import build_ensemble
from emoscope.runtime.onnx_runtime import export_onnx
from emoscope.runtime.spec import ModelSpec


def _member(tmp_path, name, width, classes=("angry", "happy", "neutral"), img_size=32):
    model = emoscope.create_model("fer_fast_net", num_classes=len(classes), img_size=img_size, width=width).eval()
    spec = ModelSpec(name=name, architecture="fer_fast_net", arch_kwargs={"width": width}, label_set="tiny",
                     classes=list(classes), img_size=img_size, metrics={"split": "tiny:val"})
    return save_bundle(model, spec, tmp_path / f"{name}.safetensors")


def test_ensemble_bundle_and_onnx_give_the_mean_of_member_probabilities(tmp_path):
    members = [_member(tmp_path, "a", 1.0), _member(tmp_path, "b", 0.5)]
    model, spec = build_ensemble(members, "both")
    bundle = save_bundle(model, spec, tmp_path / "both.safetensors")
    faces = np.random.default_rng(0).integers(0, 256, size=(6, 40, 40), dtype=np.uint8)
    expected = np.mean([emoscope.load(str(m)).predict_proba(faces) for m in members], axis=0)
    np.testing.assert_allclose(emoscope.load(str(bundle)).predict_proba(faces), expected, atol=1e-5)
    onnx = export_onnx(model, spec, tmp_path / "both.onnx")
    np.testing.assert_allclose(emoscope.load(str(onnx), backend="onnx").predict_proba(faces), expected, atol=1e-5)
    assert spec.metrics["members"] == "a, b" and spec.classes == ["angry", "happy", "neutral"]
    assert spec.metrics["split"] == "tiny:val"  # the members' shared selection split is the ensemble's


def test_members_must_share_labels_and_input(tmp_path):
    base = _member(tmp_path, "a", 1.0)
    with pytest.raises(ModelError, match="differ in classes"):
        build_ensemble([base, _member(tmp_path, "b", 1.0, classes=("sad", "fear", "happy", "x"))], "bad")
    with pytest.raises(ModelError, match="differ in img_size"):
        build_ensemble([base, _member(tmp_path, "c", 1.0, img_size=48)], "bad")
    with pytest.raises(ModelError, match="at least two"):
        build_ensemble([base], "alone")


def test_a_bundle_saved_in_shards_loads_whole_and_says_which_shard_is_missing(tmp_path):
    members = [_member(tmp_path, "a", 1.0), _member(tmp_path, "b", 1.0)]
    model, spec = build_ensemble(members, "both")
    whole = save_bundle(model, spec, tmp_path / "whole.safetensors", half=True)
    limit = whole.stat().st_size // 3
    sharded = save_bundle(model, spec, tmp_path / "both.safetensors", half=True, max_file_bytes=limit)
    files = bundle_files(sharded)
    largest_tensor = max(t.numel() * t.element_size() for t in read_tensors(whole).values())
    assert len(files) >= 3 and all(f.stat().st_size <= max(limit, largest_tensor) + 4096 for f in files)
    faces = np.random.default_rng(1).integers(0, 256, size=(4, 32, 32), dtype=np.uint8)
    np.testing.assert_array_equal(emoscope.load(str(sharded)).predict_proba(faces),
                                  emoscope.load(str(whole)).predict_proba(faces))
    save_bundle(model, spec, sharded, half=True)  # saved again whole: the old shards go
    assert bundle_files(sharded) == [sharded] and not list(tmp_path.glob("both.safetensors.*"))
    save_bundle(model, spec, sharded, half=True, max_file_bytes=limit)
    files[-1].unlink()
    with pytest.raises(ModelError, match=f"shard {files[-1].name} is missing"):
        emoscope.load(str(sharded))
