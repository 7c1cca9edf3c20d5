"""`emoscope bench classify`: faces/s of each backend's model call (torch, ONNX fp32, ONNX int8), and the
test-split accuracy that goes with each."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError


def _faces_per_second(run, batch: np.ndarray, min_seconds: float = 1.0) -> float:
    run(batch)  # warm-up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or done < 3 * len(batch):
        run(batch)
        done += len(batch)
    return done / elapsed


def bench_classifier(predictors: dict[str, object], batch_sizes=(1, 32, 256), accuracy: dict | None = None,
                     min_seconds: float = 1.0) -> list[dict]:
    """Faces/s of prepared (already normalised) batches through each backend's model call.

    All backends are timed in one process, one after the other on the same inputs, so their ratios
    are comparable; ``ms_batch1`` is the latency of one face. Each backend and batch size runs for at least
    ``min_seconds`` and three batches.
    """
    rows = []
    for label, predictor in predictors.items():
        spec = predictor.spec
        row = {"model": spec.name, "backend": label, "architecture": spec.architecture}
        for size in batch_sizes:
            batch = np.random.default_rng(0).standard_normal(
                (size, spec.in_chans, spec.img_size, spec.img_size)).astype(np.float32)
            row[f"faces_per_s_b{size}"] = round(_faces_per_second(predictor._logits, batch, min_seconds), 1)
        if 1 in batch_sizes:
            row["ms_batch1"] = round(1000 / row["faces_per_s_b1"], 3)
        if accuracy and label in accuracy:
            row["accuracy"] = accuracy[label]
        rows.append(row)
    return rows


EVALUATION_DATASET = {"fer2013": "fer2013", "fer5": "fer2013", "panic": "fer2013", "ferplus": "ferplus",
                      "asl_gesture": "asl_gesture"}
"""The dataset whose test split measures a model with this label set."""


def evaluation_dataset(spec) -> str:
    """The dataset whose splits measure a model: a part model's own part crops, else by its label set."""
    from emoscope.data.face_parts import part_dataset

    return part_dataset(spec.name) or EVALUATION_DATASET.get(spec.label_set, "fer2013")


def check_fer2013_model(predictor, bench: str) -> None:
    """Refuse, in one line, a model the ``bench`` benchmark cannot score on FER2013 faces."""
    if evaluation_dataset(predictor.spec) != "fer2013":
        raise EmoscopeError(f"{predictor.spec.name}: a {predictor.spec.label_set} model; the {bench} bench "
                            "measures whole-face FER2013 expression models (7 classes or fer5)")


def classifier_backends(name: str, int8: bool, work_dir: Path) -> dict:
    """torch, ONNX fp32 and (optionally) ONNX int8 predictors of one model; exports what is missing
    into ``work_dir`` (int8: the shipped copy, else quantised as `emoscope quantize` does)."""
    from emoscope.evaluation.int8 import quantized_copy
    from emoscope.runtime.bundle import load_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import TorchPredictor, int8_path, load_predictor, resolve_model_path

    bundle = resolve_model_path(name, "torch")
    model, spec = load_bundle(bundle)
    backends = {"torch": TorchPredictor(model, spec, bundle)}
    onnx_path = bundle.with_suffix(".onnx")
    if not onnx_path.is_file():
        onnx_path = export_onnx(model, spec, work_dir / f"{spec.name}.onnx")
    backends["onnx-fp32"] = load_predictor(onnx_path, backend="onnx")
    if int8:
        quantized = int8_path(onnx_path)
        if not quantized.is_file():
            quantized = quantized_copy(onnx_path, evaluation_dataset(spec), work_dir / f"{spec.name}.int8.onnx")
        backends["onnx-int8"] = load_predictor(quantized, backend="onnx")
    return backends


def split_accuracy(predictor) -> float:
    """Accuracy on the test split of the model's dataset (FER2013: PrivateTest)."""
    from emoscope.data import load_dataset
    from emoscope.evaluation.evaluate import evaluate

    dataset = evaluation_dataset(predictor.spec)
    return round(evaluate(predictor, load_dataset(dataset, split="test"), split=f"{dataset}:test")["accuracy"], 4)
