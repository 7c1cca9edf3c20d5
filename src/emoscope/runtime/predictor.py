"""Predictors: face crops in, class probabilities out, with a torch or ONNX Runtime backend.

Both backends share preprocessing and test-time augmentation, so they differ only in the
forward pass; the ONNX one needs no torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError, ModelError
from emoscope.runtime.preprocess import Preprocess
from emoscope.runtime.spec import ModelSpec
from emoscope.runtime.tta import softmax, tta_views

WEIGHTS_DIR = Path(os.environ.get("EMOSCOPE_WEIGHTS") or Path(__file__).resolve().parent.parent / "weights")
"""Where shipped, self-trained weights live: inside the package, so they load offline
(``$EMOSCOPE_WEIGHTS`` points elsewhere, e.g. so tests of `emoscope ship` leave the package alone)."""

BACKENDS = ("auto", "torch", "onnx", "fastest")


class Predictor:
    """Base class: subclasses implement ``_logits`` on a prepared float32 batch."""

    backend = ""

    def __init__(self, spec: ModelSpec, source: str | Path, batch_size: int = 256):
        self.spec = spec
        self.preprocess = Preprocess.from_spec(spec)
        self.source = str(source)
        self.batch_size = batch_size

    @property
    def classes(self) -> list[str]:
        return self.spec.classes

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _finite_logits(self, batch: np.ndarray) -> np.ndarray:
        # Finite weights can still overflow to inf and then NaN; a NaN probability must never pass as a
        # prediction (its argmax is class 0, and NaN fails every threshold comparison silently).
        logits = self._logits(batch)
        if not np.isfinite(logits).all():
            raise ModelError(f"{self.source}: the model produced NaN or infinite outputs; its weights are unusable")
        return logits

    def predict_prepared(self, batch: np.ndarray, tta: str = "none") -> np.ndarray:
        """Probabilities ``(N, K)`` for an already normalised ``(N, C, S, S)`` batch."""
        probs = np.zeros((len(batch), self.spec.num_classes), dtype=np.float64)
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            views = tta_views(chunk, tta)
            for view in views:
                logits = self._finite_logits(np.ascontiguousarray(view, dtype=np.float32))
                probs[start : start + len(chunk)] += softmax(logits)
            probs[start : start + len(chunk)] /= len(views)
        return probs.astype(np.float32)

    def predict_proba(self, faces: np.ndarray | Sequence[np.ndarray], tta: str = "none") -> np.ndarray:
        """Probabilities for uint8 face crops of any size, gray or BGR."""
        return self.predict_prepared(self.preprocess(faces), tta=tta)

    def predict(self, faces: np.ndarray | Sequence[np.ndarray], tta: str = "none") -> list[str]:
        probs = self.predict_proba(faces, tta=tta)
        return [self.spec.classes[i] for i in probs.argmax(axis=1)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.name!r}, {self.spec.architecture}, {self.source})"


class TorchPredictor(Predictor):
    backend = "torch"

    def __init__(self, model, spec: ModelSpec, source: str | Path, batch_size: int = 256):
        super().__init__(spec, source, batch_size)
        self.model = model.eval()

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).float().numpy()


class OnnxPredictor(Predictor):
    backend = "onnx"

    def __init__(self, session, spec: ModelSpec, source: str | Path, batch_size: int = 256):
        super().__init__(spec, source, batch_size)
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


def int8_path(onnx_path: Path) -> Path:
    """Where the int8 copy of an ONNX model lives: ``NAME.int8.onnx`` beside ``NAME.onnx``."""
    return onnx_path.with_name(f"{onnx_path.stem}.int8.onnx")


def list_pretrained() -> list[str]:
    """Names of the weights shipped inside the package (``emoscope.load(name)``); an int8 copy is a file of
    its model, not a model."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted({p.stem for p in WEIGHTS_DIR.iterdir()
                   if p.suffix in (".safetensors", ".onnx") and not p.stem.endswith(".int8")})


VIDEO_MODELS = ("fer-default", "fer-fast")
"""Shipped models in the order video analysis prefers them: the most accurate one whose emotion-only loop
keeps 250 frames/s on the sample clip (`emoscope bench video --model M`; see docs/speed.md)."""
IMAGE_MODELS = ("fer-default", "fer-fast")
"""Photos need no real-time speed: the most accurate first."""


def default_model(preference: Sequence[str]) -> str:
    """The first shipped model of ``preference``."""
    shipped = list_pretrained()
    for name in preference:
        if name in shipped:
            return name
    raise ModelError("no shipped expression model found; pass --model NAME_OR_PATH (.safetensors or .onnx)")


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_model_path(name_or_path: str | Path, backend: str) -> Path:
    """A file path for a bundle name or path, preferring the format the backend reads."""
    path = Path(name_or_path)
    if path.exists():
        if path.is_dir():
            raise ModelError(f"{path}: is a folder, expected a .safetensors or .onnx model file")
        return path
    if path.suffix in (".safetensors", ".onnx") or "/" in str(name_or_path):
        raise ModelError(f"{path}: no such model file")
    suffixes = {"onnx": [".onnx"], "torch": [".safetensors"]}.get(backend, [".safetensors", ".onnx"])
    if backend == "auto" and not _torch_available():
        suffixes = [".onnx"]
    for suffix in suffixes:
        candidate = WEIGHTS_DIR / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return candidate
    known = ", ".join(list_pretrained()) or "none shipped yet"
    raise ModelError(f"unknown model {str(name_or_path)!r} for backend {backend!r} (pretrained: {known})")


def load_predictor(name_or_path: str | Path, backend: str = "auto", batch_size: int = 256,
                   threads: int = 0) -> Predictor:
    """A predictor for a shipped model name, a ``.safetensors`` bundle or an exported ``.onnx``, freshly
    loaded (:func:`shared_predictor` loads each once per process).

    ``backend``: ``auto`` (torch for bundles when torch is installed, else ONNX), ``torch``, ``onnx``, or
    ``fastest`` (ONNX Runtime where the model is exported: several times faster per small batch on CPU;
    for a shipped name, its int8 copy where one is shipped, which `emoscope quantize` keeps only within
    0.3 point of fp32's accuracy; else ``auto``). ``threads``: ONNX Runtime's intra-op threads (it ignores
    OMP_NUM_THREADS), or torch's thread count, process-wide; 0 leaves the library's default (every core).
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
    if backend == "fastest":
        int8 = int8_path(WEIGHTS_DIR / f"{name_or_path}.onnx")
        if not Path(name_or_path).exists() and int8.is_file():
            return load_predictor(int8, "onnx", batch_size, threads)
        try:
            return load_predictor(name_or_path, "onnx", batch_size, threads)
        except EmoscopeError:
            return load_predictor(name_or_path, "auto", batch_size, threads)
    path = resolve_model_path(name_or_path, backend)
    if path.suffix == ".onnx":
        if backend == "torch":
            raise ModelError(f"{path}: an ONNX file needs backend 'onnx'")
        from emoscope.runtime.onnx_runtime import open_onnx

        session, spec = open_onnx(path, threads=threads)
        return OnnxPredictor(session, spec, path, batch_size)
    if backend == "onnx":
        onnx_path = path.with_suffix(".onnx")
        if not onnx_path.is_file():
            raise ModelError(f"{path}: no exported {onnx_path.name} beside it; run `emoscope export {path}`")
        return load_predictor(onnx_path, "onnx", batch_size, threads)
    if not _torch_available():
        raise ModelError(f"{path}: torch is not installed; use the ONNX model (backend 'onnx')")
    from emoscope.runtime.bundle import load_bundle

    if threads:
        import torch

        torch.set_num_threads(threads)
    model, spec = load_bundle(path)
    return TorchPredictor(model, spec, path, batch_size)


_SHARED: dict[tuple[str, str, int], Predictor] = {}  # (model source, backend, threads)
_SHARED_LOCK = threading.Lock()


def shared_predictor(name_or_path: str | Path, backend: str = "fastest", threads: int = 0) -> Predictor:
    """The process's one loaded predictor for ``(model, backend, threads)``: loaded on first use, then
    the same object for every caller (the web app's requests and workers, Ray workers, the desktop app,
    :class:`emoscope.Analyzer`). Predictors are safe to share between threads: they keep no state per
    call. A file is keyed by its resolved path and modification time, so a file rewritten since loads anew."""
    path = Path(name_or_path)
    source = f"{path.resolve()}@{path.stat().st_mtime_ns}" if path.is_file() else str(name_or_path)
    key = (source, backend, threads)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_predictor(name_or_path, backend=backend, threads=threads)
        return _SHARED[key]


def clear_shared() -> None:
    """Forget every shared predictor (benchmarks that time loading; tests)."""
    with _SHARED_LOCK:
        _SHARED.clear()
