"""Model cards from a bundle and a real `evaluate` report (tiny untrained model, synthetic data)."""

import json

import pytest

import emoscope
from emoscope.data.labels import LabelSet
from emoscope.errors import EmoscopeError
from emoscope.evaluation.evaluate import evaluate, write_report
from emoscope.runtime.bundle import save_bundle
from emoscope.evaluation.card import read_report, write_card
from emoscope.runtime.spec import ModelSpec
from helpers import synthetic_imageset

LABELS = LabelSet("asl_gesture", ("A", "F", "L", "V", "other"))


@pytest.fixture
def bundle_and_report(tmp_path):
    model = emoscope.create_model("fer_fast_net", num_classes=5, in_chans=1, img_size=28).eval()
    spec = ModelSpec(name="tiny", architecture="fer_fast_net", label_set="asl_gesture", classes=list(LABELS.classes),
                     img_size=28, dataset="synthetic", command="emoscope train configs/x.toml",
                     metrics={"split": "synthetic:holdout", "accuracy": 0.25, "epoch": 3})
    bundle = save_bundle(model, spec, tmp_path / "weights" / "tiny.safetensors", half=True)
    report = evaluate(emoscope.load(str(bundle)), synthetic_imageset(50, 28, LABELS), split="synthetic:test")
    report["command"] = "emoscope evaluate tiny --dataset synthetic --split test"
    return bundle, write_report(report, tmp_path / "eval")["json"], report


def test_card_files_hold_the_reports_numbers(bundle_and_report, tmp_path):
    bundle, report_path, report = bundle_and_report
    config = tmp_path / "x.toml"
    config.write_text('model = "fer_fast_net"\nepochs = 3\n')
    paths = write_card(bundle, report_path, config, ["only tested on synthetic squares"], "make tiny")
    assert {p.name for p in paths.values()} == {"tiny.md", "tiny.card.json", "tiny_confusion.png"}
    assert all(p.parent == bundle.parent and p.stat().st_size > 0 for p in paths.values())
    card = json.loads(paths["json"].read_text())
    assert card["accuracy"] == report["accuracy"] and card["macro_f1"] == report["macro_f1"]
    assert [row["recall"] for row in card["per_class"]] == [r["recall"] for r in report["per_class"].values()]
    assert card["weights_dtype"] == "float16" and card["params"] > 10_000 and card["mflops"] > 0
    assert card["recipe"] == {"model": "fer_fast_net", "epochs": 3}
    assert card["selection"]["split"] == "synthetic:holdout" and card["test_split"] == "synthetic:test"
    markdown = paths["markdown"].read_text()
    for text in ("emoscope train configs/x.toml", "All steps: `make tiny`", report["command"], "![confusion matrix](tiny_confusion.png)",
                 "only tested on synthetic squares", f"{report['accuracy']:.4f}"):
        assert text in markdown


def test_a_report_of_another_model_or_no_report_is_refused(bundle_and_report, tmp_path):
    bundle, report_path, report = bundle_and_report
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**report, "per_class": {"happy": report["per_class"]["A"]}}))
    with pytest.raises(EmoscopeError, match="was it made with this model"):
        write_card(bundle, other)
    (tmp_path / "bad.json").write_text('{"accuracy": 1}')
    with pytest.raises(EmoscopeError, match="not an `emoscope evaluate` report"):
        read_report(tmp_path / "bad.json")
    with pytest.raises(EmoscopeError, match="cannot read"):
        read_report(tmp_path / "missing.json")


def test_card_lists_tta_results_and_target_and_refuses_unrelated_tta_reports(bundle_and_report, tmp_path):
    from emoscope.evaluation.card import cards_table, read_card

    bundle, report_path, report = bundle_and_report
    images = synthetic_imageset(50, 28, LABELS)
    flipped = evaluate(emoscope.load(str(bundle)), images, split="synthetic:test", tta="hflip")
    flipped_path = write_report(flipped, tmp_path / "eval", stem="tiny_hflip")["json"]
    paths = write_card(bundle, report_path, tta_report_paths=[flipped_path], target="beat chance")
    card = read_card(paths["json"])
    assert card.tta["hflip"].accuracy == flipped["accuracy"] and card.best_tta[0] == "hflip"
    assert "- hflip: accuracy" in paths["markdown"].read_text() and "| target | beat chance |" in paths["markdown"].read_text()
    row = cards_table([card]).splitlines()[2]
    assert f"{flipped['accuracy']:.4f} (hflip)" in row and "beat chance" in row

    with pytest.raises(EmoscopeError, match="with test-time augmentation"):
        write_card(bundle, report_path, tta_report_paths=[report_path])  # a plain report is no TTA report
    other_split = write_report({**flipped, "split": "synthetic:val"}, tmp_path / "eval", stem="val")["json"]
    with pytest.raises(EmoscopeError, match="with test-time augmentation"):
        write_card(bundle, report_path, tta_report_paths=[other_split])
    (tmp_path / "broken.card.json").write_text("{")
    with pytest.raises(EmoscopeError, match="not a model card"):
        read_card(tmp_path / "broken.card.json")


def test_card_shows_the_selection_split_and_refuses_a_report_of_another_split(bundle_and_report, tmp_path):
    from emoscope.evaluation.card import cards_table, read_card

    bundle, report_path, report = bundle_and_report
    images = synthetic_imageset(40, 28, LABELS, seed=7)
    on_holdout = evaluate(emoscope.load(str(bundle)), images, split="synthetic:holdout")
    holdout_path = write_report(on_holdout, tmp_path / "eval", stem="tiny_holdout")["json"]
    paths = write_card(bundle, report_path, selection_report_path=holdout_path)
    chosen = read_card(paths["json"]).on_selection_split
    assert (chosen.split, chosen.images, chosen.accuracy) == ("synthetic:holdout", 40, on_holdout["accuracy"])
    assert ("On `synthetic:holdout` (40 images), the split the epoch was chosen on, so not a clean test number"
            in paths["markdown"].read_text())
    assert f"| synthetic:holdout: {on_holdout['accuracy']:.4f}, {on_holdout['macro_f1']:.4f} |" in cards_table(
        [read_card(paths["json"])])
    assert read_card(write_card(bundle, report_path)["json"]).on_selection_split is None
    with pytest.raises(EmoscopeError, match="on its selection split synthetic:holdout"):
        write_card(bundle, report_path, selection_report_path=report_path)  # the test split is not the selection split


def test_a_pack_trained_model_was_chosen_on_the_packs_copy_of_the_split():
    from emoscope.evaluation.card import _same_split

    assert _same_split("fer2013:val", "fer2013:val")
    assert _same_split("fer2013:val", ".pack/fer2013-7bit.emopack:val")
    assert not _same_split("fer2013:test", ".pack/fer2013-7bit.emopack:val")
    assert not _same_split("fer2013:test", "fer2013:val")
