"""An int8 ONNX file beside a shipped model, kept only where it costs at most :data:`MAX_LOSS` of accuracy.

`emoscope quantize NAME` quantises the shipped ``NAME.onnx`` (exported from its weights where none ships) on
Training faces of the model's dataset, scores fp32 and int8 on the selection split (FER2013 PublicTest), and
keeps ``NAME.int8.onnx`` only if int8 loses at most 0.3 point there. The test split's numbers and predictions
go into the card's ``int8`` section, where tests check them as they check every other view.
``backend="fastest"`` then loads the int8 file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from emoscope.data import load_dataset
from emoscope.data.splits import stratified_sample
from emoscope.errors import EmoscopeError, ModelError
from emoscope.evaluation.card import Int8Result, read_card, render_markdown
from emoscope.evaluation.evaluate import evaluate
from emoscope.files import write_text_atomic
from emoscope.runtime.predictor import WEIGHTS_DIR, int8_path, load_predictor
from emoscope.runtime.quantize import quantize_onnx

MAX_LOSS = 0.003
"""The most selection-split accuracy int8 may lose against fp32 (0.3 point)."""
CALIBRATION_FACES = 512
"""Training faces, stratified by class, whose activations set the int8 ranges."""


def quantized_copy(onnx_path: Path, dataset: str, out_path: Path) -> Path:
    """``onnx_path`` quantised to int8 at ``out_path``, calibrated on :data:`CALIBRATION_FACES` stratified
    Training faces of ``dataset``."""
    train = load_dataset(dataset, split="train")
    calibration = train.subset(stratified_sample(train.labels, CALIBRATION_FACES, seed=0)).images
    return quantize_onnx(onnx_path, calibration, out_path)


def quantize_shipped(name: str) -> Int8Result:
    """Quantise shipped model ``name``, check it, write ``NAME.int8.onnx`` and the card's ``int8`` section
    (JSON and Markdown). Returns that section. Raises, writing no int8 file and leaving the card as it was, when
    int8 loses more than :data:`MAX_LOSS`."""
    card_path = WEIGHTS_DIR / f"{name}.card.json"
    if not card_path.is_file():
        raise ModelError(f"{name}: int8 needs a shipped model with its card ({card_path.name} in {WEIGHTS_DIR})")
    with tempfile.TemporaryDirectory(prefix="emoscope-int8-") as work_dir:
        return _quantize_checked(name, card_path, fp32_onnx(name, Path(work_dir)))


def fp32_onnx(name: str, work_dir: Path) -> Path:
    """The shipped model's ONNX file, or, for a model shipped without one (a 6M-parameter VGG's fp32 graph
    would add 24 MB to the package), its weights exported into ``work_dir``."""
    shipped = WEIGHTS_DIR / f"{name}.onnx"
    if shipped.is_file():
        return shipped
    from emoscope.runtime.bundle import load_bundle
    from emoscope.runtime.onnx_runtime import export_onnx

    model, spec = load_bundle(WEIGHTS_DIR / f"{name}.safetensors")
    return export_onnx(model, spec, work_dir / f"{name}.onnx")


def _quantize_checked(name: str, card_path: Path, onnx_path: Path) -> Int8Result:
    """:func:`quantize_shipped` given the fp32 graph to quantise and compare against."""
    card = read_card(card_path)
    dataset, test_split = card.test_split.rsplit(":", 1)
    target = int8_path(WEIGHTS_DIR / f"{name}.onnx")
    unchecked = quantized_copy(onnx_path, dataset, target.with_name(f"{name}.int8.unchecked.onnx"))
    try:
        fp32, int8 = load_predictor(onnx_path, backend="onnx"), load_predictor(unchecked, backend="onnx")
        selection = load_dataset(dataset, split="val")
        fp32_selection = evaluate(fp32, selection, split=f"{dataset}:val")["accuracy"]
        int8_selection = evaluate(int8, selection, split=f"{dataset}:val")["accuracy"]
        if fp32_selection - int8_selection > MAX_LOSS:
            raise EmoscopeError(f"{name}: int8 scores {int8_selection:.4f} on {dataset}:val against fp32's "
                                f"{fp32_selection:.4f}, more than {MAX_LOSS * 100:.1f} point lost; no int8 file kept")
        report = evaluate(int8, load_dataset(dataset, split=test_split), split=card.test_split)
        unchecked.replace(target)
    finally:
        unchecked.unlink(missing_ok=True)
    card.int8 = Int8Result(
        file=target.name, accuracy=report["accuracy"], macro_f1=report["macro_f1"],
        on_selection_split={"split": f"{dataset}:val", "accuracy": int8_selection, "fp32_accuracy": fp32_selection},
        quantisation=f"static QDQ, per-channel int8 weights, uint8 activations MinMax-calibrated on "
                     f"{CALIBRATION_FACES} {dataset} Training faces; the first convolution and the classifier in fp32",
        command=f"emoscope quantize {name}", predictions=report["predictions"])
    # the file's own layout (tools/card_predictions.py writes it so), with the one new section
    written = json.loads(card_path.read_text()) | {"int8": card.int8.model_dump()}
    write_text_atomic(card_path, json.dumps(written, indent=1, ensure_ascii=False) + "\n")
    write_text_atomic(card_path.with_name(f"{name}.md"), render_markdown(card))
    return card.int8
