"""The app's logic without a window: model lists, the 5-class view, settings, the part template."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoscope.data.face_parts import PART_BOXES, PARTS, crop_part, mask_part, part_box, part_model_name
from emoscope.gui.controller import AppController, expression_models, view_probabilities
from emoscope.gui.settings import GuiSettings, load_settings, save_settings
from emoscope.runtime.predictor import list_pretrained


def test_the_model_picker_offers_every_whole_face_model_and_no_part_or_gesture_model():
    offered = expression_models()
    assert {"fer-fast", "fer5", "fer-best", "ferplus"} <= set(offered)
    assert not [name for name in offered if name.startswith("part-") or name == "asl-gesture"]
    shipped_parts = [part_model_name(part) for part in PARTS if part_model_name(part) in list_pretrained()]
    assert shipped_parts == [part_model_name(part) for part in PARTS], "a part model is not shipped"


def test_five_class_view_keeps_the_studys_classes_renormalised():
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    probs = np.array([0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1])
    five = view_probabilities(classes, probs, "5")
    assert [name for name, _ in five] == ["angry", "disgust", "happy", "surprise", "neutral"]
    assert sum(p for _, p in five) == pytest.approx(1.0)
    assert dict(five)["happy"] == pytest.approx(0.2 / 0.6)
    assert view_probabilities(classes, probs, "7") == list(zip(classes, probs.tolist()))
    fer5 = ["angry", "disgust", "happy", "neutral", "surprise"]
    assert [name for name, _ in view_probabilities(fer5, np.full(5, 0.2), "5")] == fer5


def test_the_chosen_model_is_remembered_between_runs(tmp_path):
    path = tmp_path / "gui.json"
    first = AppController(path)
    assert first.set_model("fer5")
    assert json.loads(path.read_text())["model"] == "fer5"
    assert AppController(path).model_name == "fer5"


def test_a_damaged_settings_file_gives_the_defaults(tmp_path):
    path = tmp_path / "gui.json"
    path.write_text("{not json")
    assert load_settings(path) == GuiSettings()
    path.write_text(json.dumps({"model": "fer5", "view": "6"}))  # one bad value spoils the file, not the app
    assert load_settings(path) == GuiSettings()
    save_settings(GuiSettings(model="fer-best", view="5"), path)
    assert load_settings(path).view == "5"


def test_a_part_model_is_refused_as_the_whole_face_model(tmp_path):
    controller = AppController(tmp_path / "gui.json")
    assert not controller.set_model(part_model_name("mouth"))
    assert controller.status.startswith("error:") and controller.model_name == "fer-fast"


def test_the_part_template_scales_and_masks_only_its_box():
    face = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    for part, (x1, y1, x2, y2) in PART_BOXES.items():
        assert np.array_equal(crop_part(face, part), face[y1:y2, x1:x2])
        assert part_box(part, 96, 96) == (2 * x1, 2 * y1, 2 * x2, 2 * y2)
        masked = mask_part(face, part)
        inside = np.zeros_like(face, dtype=bool)
        inside[y1:y2, x1:x2] = True
        assert np.array_equal(masked[~inside], face[~inside])
        assert (masked[inside] == round(face.mean())).all()
    colour = np.zeros((96, 96, 3), np.uint8)
    assert crop_part(colour, "mouth").shape == (32, 48, 3)


def test_bench_measures_a_part_model_on_its_own_part_crops(data_root):
    from emoscope.benchmarks.classifier_speed import split_accuracy
    from emoscope.runtime.predictor import WEIGHTS_DIR, load_predictor

    card = json.loads((WEIGHTS_DIR / "part-mouth.card.json").read_text())
    assert split_accuracy(load_predictor("part-mouth", backend="torch")) == round(card["accuracy"], 4)
