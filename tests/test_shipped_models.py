"""Every shipped model reproduces its model card's test numbers: single view, each test-time augmentation, int8 copy.

A card carries its model's prediction for every image of the test split (one per view it claims). Two checks
follow: the card's numbers follow from those predictions and the split's labels (no model run, whole split),
and the model still makes them (a sample spread over the split, as large as CHECK_GFLOPS of compute allows:
the whole split for the part models, ~900 images for fer-default, at least 32 for the largest). Weights that
changed would change predictions in any such sample; the whole split's re-evaluation of every model (a VGG's
ten-crop is minutes) runs with EMOSCOPE_FULL_CHECKS=1.
"""

import json
import os

import numpy as np
import pytest

import emoscope
from emoscope.data import load_dataset
from emoscope.evaluation.evaluate import align_labels, decode_predictions, evaluate
from emoscope.evaluation.int8 import MAX_LOSS
from emoscope.evaluation.metrics import classification_metrics
from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

CARDS = sorted(WEIGHTS_DIR.glob("*.card.json"))
TTA_VIEWS = {"none": 1, "hflip": 2, "tencrop": 10, "int8": 1}
CHECK_GFLOPS = 25
"""Model compute per re-check of a card's predictions (MFLOPs per face x views x faces)."""
MIN_SAMPLE = 32
TIE = 1e-4
"""A prediction may differ only where the top two probabilities are this close: a rounding tie, which another
batch size or CPU may break the other way."""
INT8_TIE = 0.01
"""The same for an int8 copy, whose integer kernels differ by CPU (ONNX Runtime picks AVX2, AVX-512 VNNI or AMX
code, which round differently): on a CPU with AMX, 8 of fer-default's 3,589 test images came out otherwise than
its card, made on another CPU, every one with its top two within 0.0073."""
CLAIMS = [(path, mode) for path in CARDS for card in [json.loads(path.read_text())]
          for mode in ["none", *card.get("tta", {}), *(["int8"] if "int8" in card else [])]]
"""Each card's views: single view, each test-time augmentation, and its int8 copy where one is shipped."""


def card_dataset(card: dict) -> str:
    """The dataset a card's test split belongs to: ``fer2013:test`` -> fer2013; a part model's
    ``fer2013-mouth:test`` -> fer2013-mouth (FER2013 cut to the mouth): each is measured on its own input."""
    return card["test_split"].rsplit(":", 1)[0]


def claim_of(card: dict, mode: str) -> dict:
    """The part of a card holding the numbers and predictions of one view."""
    return card if mode == "none" else card["int8"] if mode == "int8" else card["tta"][mode]


def view_predictor(card: dict, mode: str):
    """The model that makes a view's predictions, and the test-time augmentation it runs with."""
    if mode == "int8":
        return emoscope.load(str(WEIGHTS_DIR / card["int8"]["file"]), backend="onnx"), "none"
    return emoscope.load(card["name"], backend="torch"), mode


def split_images(card: dict, predictor):
    """The card's test split, labelled with the model's classes (FER2013's seven for fer5's five)."""
    return align_labels(load_dataset(card_dataset(card), split=card["test_split"].rsplit(":", 1)[1]), predictor)


def claim_id(value):
    return value if isinstance(value, str) else value.name.removesuffix(".card.json")


def test_every_shipped_classifier_has_a_card():
    assert CARDS, "no model cards shipped"
    assert {c.name.removesuffix(".card.json") for c in CARDS} == set(list_pretrained())


@pytest.mark.data
@pytest.mark.parametrize("card_path,mode", CLAIMS, ids=claim_id)
def test_a_cards_numbers_follow_from_its_predictions(card_path, mode, data_root):
    card = json.loads(card_path.read_text())
    claim = claim_of(card, mode)
    predictor = emoscope.load(card["name"], backend="torch")
    images = split_images(card, predictor)
    predicted = decode_predictions(claim["predictions"])
    assert len(predicted) == len(images) == card["test_images"], (
        f"{card['name']} {mode}: {len(predicted)} predictions for {len(images)} test images; "
        f"python tools/card_predictions.py {card['name']} adds them")
    metrics = classification_metrics(images.labels, np.eye(len(card["classes"]))[predicted], card["classes"])
    assert metrics["accuracy"] == pytest.approx(claim["accuracy"], abs=1e-6)
    assert metrics["macro_f1"] == pytest.approx(claim["macro_f1"], abs=1e-6)
    if mode == "none":
        recalls = {row["name"]: row["recall"] for row in card["per_class"]}
        assert {k: v["recall"] for k, v in metrics["per_class"].items()} == pytest.approx(recalls, abs=1e-6)
    if mode == "int8":  # kept only within MAX_LOSS of fp32 on the split that chose it
        selection = claim["on_selection_split"]
        assert selection["fp32_accuracy"] - selection["accuracy"] <= MAX_LOSS


@pytest.mark.data
@pytest.mark.parametrize("card_path,mode", CLAIMS, ids=claim_id)
def test_a_shipped_model_still_makes_its_cards_predictions(card_path, mode, data_root):
    card = json.loads(card_path.read_text())
    predictor, tta = view_predictor(card, mode)
    images = split_images(card, predictor)
    affordable = int(CHECK_GFLOPS * 1000 / (card["mflops"] * TTA_VIEWS[mode]))
    size = len(images) if os.environ.get("EMOSCOPE_FULL_CHECKS") == "1" else min(len(images), max(MIN_SAMPLE, affordable))
    sample = np.linspace(0, len(images) - 1, size).round().astype(int)
    probs = predictor.predict_proba(images.images[sample], tta=tta)
    expected = decode_predictions(claim_of(card, mode)["predictions"])[sample]
    top_two = np.sort(probs, axis=1)[:, -2:]
    tie = INT8_TIE if mode == "int8" else TIE
    differ = (probs.argmax(axis=1) != expected) & (top_two[:, 1] - top_two[:, 0] > tie)
    assert not differ.any(), f"{differ.sum()} of {size} test images predicted otherwise than the card says"


@pytest.mark.data
@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.name.removesuffix(".card.json"))
def test_onnx_export_agrees_with_the_card(card_path, data_root):
    """Where an ONNX file ships beside the weights, it must classify the test split the same way."""
    card = json.loads(card_path.read_text())
    onnx_path = card_path.with_name(card["name"] + ".onnx")
    if not onnx_path.is_file():
        pytest.skip(f"{card['name']} ships without an ONNX export")
    predictor = emoscope.load(str(onnx_path), backend="onnx")
    dataset = card_dataset(card)
    report = evaluate(predictor, load_dataset(dataset, split=card["test_split"].split(":")[-1]),
                      split=card["test_split"])
    assert report["accuracy"] == pytest.approx(card["accuracy"], abs=2e-3)  # fp32 ORT vs torch rounding


def test_models_pretrained_writes_every_card_into_the_readme_table(tmp_path):
    from helpers import run_emoscope

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- models:pretrained -->\nold\n<!-- /models:pretrained -->\nrest\n")
    run = run_emoscope("models", "--pretrained", "--readme", readme)
    assert run.returncode == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old" not in text
    for path in CARDS:
        card = json.loads(path.read_text())
        assert f"[{card['name']}](src/emoscope/weights/{card['name']}.md)" in text
        assert f"| {card['accuracy']:.4f} |" in text


def test_quantize_needs_a_shipped_model_with_its_card():
    from conftest import run_cli_here

    code, stderr = run_cli_here("quantize", "never-shipped")
    assert code != 0 and stderr.count("\n") == 1 and "int8 needs a shipped model" in stderr, stderr


@pytest.mark.data
def test_an_int8_copy_that_loses_too_much_is_not_kept_and_the_card_is_unchanged(tmp_path, monkeypatch, data_root):
    import emoscope.evaluation.int8 as int8

    for suffix in (".onnx", ".card.json"):
        (tmp_path / f"fer-default{suffix}").write_bytes((WEIGHTS_DIR / f"fer-default{suffix}").read_bytes())
    monkeypatch.setattr(int8, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(int8, "MAX_LOSS", -1.0)  # no int8 model can gain a whole accuracy point's worth
    with pytest.raises(emoscope.errors.EmoscopeError, match="no int8 file kept"):
        int8.quantize_shipped("fer-default")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer-default.card.json", "fer-default.onnx"]
    assert (tmp_path / "fer-default.card.json").read_bytes() == (WEIGHTS_DIR / "fer-default.card.json").read_bytes()


@pytest.mark.data
def test_a_model_shipped_without_onnx_is_exported_for_int8_and_nothing_is_left_behind(tmp_path, monkeypatch,
                                                                                      data_root):
    """fer-best ships no fp32 ONNX (24 MB): quantising exports one into a temporary folder, used and removed."""
    import emoscope.evaluation.int8 as int8

    for suffix in (".safetensors", ".card.json"):
        (tmp_path / f"fer-fast{suffix}").write_bytes((WEIGHTS_DIR / f"fer-fast{suffix}").read_bytes())
    monkeypatch.setattr(int8, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(int8, "MAX_LOSS", -1.0)
    with pytest.raises(emoscope.errors.EmoscopeError, match="fer-fast: int8 scores .* against fp32's"):
        int8.quantize_shipped("fer-fast")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer-fast.card.json", "fer-fast.safetensors"]
