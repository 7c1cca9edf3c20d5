"""Every shipped model reproduces its model card's test numbers with `emoscope evaluate`'s code.

One test per card in the weights folder; the full test split of each model's dataset is used
(FER2013 PrivateTest is 3,589 images: seconds for the small models, under a minute for a VGG).
Test-time augmentation multiplies that by 2 (hflip) or 10 (tencrop), so those claims are re-checked
here only where the cost stays small; EMOSCOPE_FULL_CHECKS=1 re-checks every one.
"""

import json
import os

import pytest

import emoscope
from emoscope.data import load_dataset
from emoscope.evaluation.evaluate import evaluate
from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

CARDS = sorted(WEIGHTS_DIR.glob("*.card.json"))
TTA_VIEWS = {"hflip": 2, "tencrop": 10}
TTA_CHECK_MFLOPS = 300
"""Largest MFLOPs per face x views re-checked by default (fer-fast's ten-crop is 269; a VGG's flip is 1,860)."""
TTA_CLAIMS = [(path, mode) for path in CARDS for mode in json.loads(path.read_text()).get("tta", {})]


def card_dataset(card: dict) -> str:
    """The dataset a card's test split belongs to: ``fer2013:test`` -> fer2013; a part model's
    ``fer2013-mouth:test`` -> fer2013-mouth (FER2013 cut to the mouth): each is measured on its own input."""
    return card["test_split"].rsplit(":", 1)[0]


def test_every_shipped_classifier_has_a_card():
    assert CARDS, "no model cards shipped"
    assert {c.name.removesuffix(".card.json") for c in CARDS} == set(list_pretrained())


@pytest.mark.data
@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.name.removesuffix(".card.json"))
def test_shipped_model_reproduces_its_card(card_path, data_root):
    card = json.loads(card_path.read_text())
    predictor = emoscope.load(card["name"], backend="torch")
    dataset = card_dataset(card)
    split = card["test_split"].split(":")[-1]
    report = evaluate(predictor, load_dataset(dataset, split=split), split=card["test_split"])
    assert report["n"] == card["test_images"]
    assert report["accuracy"] == pytest.approx(card["accuracy"], abs=1e-6)
    assert report["macro_f1"] == pytest.approx(card["macro_f1"], abs=1e-6)
    recalls = {row["name"]: row["recall"] for row in card["per_class"]}
    assert {k: v["recall"] for k, v in report["per_class"].items()} == pytest.approx(recalls, abs=1e-6)


@pytest.mark.data
@pytest.mark.parametrize("card_path,mode", TTA_CLAIMS,
                         ids=lambda v: v if isinstance(v, str) else v.name.removesuffix(".card.json"))
def test_shipped_model_reproduces_its_tta_numbers(card_path, mode, data_root):
    """A TTA accuracy in a card is a claim like any other."""
    card = json.loads(card_path.read_text())
    cost = card["mflops"] * TTA_VIEWS[mode]
    if cost > TTA_CHECK_MFLOPS and os.environ.get("EMOSCOPE_FULL_CHECKS") != "1":
        pytest.skip(f"{card['name']} {mode}: {cost:.0f} MFLOPs per face; set EMOSCOPE_FULL_CHECKS=1 to re-check")
    predictor = emoscope.load(card["name"], backend="torch")
    dataset = card_dataset(card)
    split = card["test_split"].split(":")[-1]
    augmented = evaluate(predictor, load_dataset(dataset, split=split), split=card["test_split"], tta=mode)
    assert augmented["accuracy"] == pytest.approx(card["tta"][mode]["accuracy"], abs=1e-6)
    assert augmented["macro_f1"] == pytest.approx(card["tta"][mode]["macro_f1"], abs=1e-6)


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
