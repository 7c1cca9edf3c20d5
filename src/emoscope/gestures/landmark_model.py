"""The landmark model: a multinomial logistic regression on a hand's shape measurements
(:func:`emoscope.gestures.features.hand_features`) that gives A, F, L, V or "other".

Rules with hand-set thresholds read generated hands at 98% but real photos at about 60%: real V's
and A's sit where no threshold expected them. A linear model fitted on real people's landmarks
(plus generated look-alikes, which real photo sets lack) puts the boundaries where real hands are,
yet stays small enough to read: one weight per measurement and letter, kept in a safetensors file
with its provenance. Inference is NumPy only; fitting uses scikit-learn (the ``train`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoscope.data.sign_mnist import GESTURE_LETTERS
from emoscope.errors import ModelError
from emoscope.files import atomic_output
from emoscope.gestures.features import FEATURE_NAMES, hand_features

CLASSES = (*GESTURE_LETTERS, "other")
SHIPPED = Path(__file__).resolve().parent.parent / "weights" / "gestures" / "asl-landmarks.safetensors"
"""The shipped landmark model (``make reproduce-asl-landmarks`` rebuilds it)."""


@dataclass(frozen=True)
class LandmarkModel:
    """Standardise the measurements, then a softmax over :data:`CLASSES`."""

    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    provenance: dict = field(default_factory=dict)

    def probabilities(self, points: np.ndarray) -> dict[str, float]:
        """Per class, the probability for one hand's ``(21, 3)`` landmarks."""
        logits = self.weights @ ((hand_features(points) - self.mean) / self.scale) + self.bias
        exp = np.exp(logits - logits.max())
        return dict(zip(CLASSES, map(float, exp / exp.sum())))

    def save(self, path: Path) -> Path:
        from safetensors.numpy import save_file

        tensors = {"mean": self.mean, "scale": self.scale, "weights": self.weights, "bias": self.bias}
        metadata = {"classes": json.dumps(CLASSES), "features": json.dumps(FEATURE_NAMES),
                    "provenance": json.dumps(self.provenance)}
        with atomic_output(Path(path)) as temporary:
            save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(temporary),
                      metadata=metadata)
        return Path(path)

    @classmethod
    def load(cls, path: Path = SHIPPED) -> LandmarkModel:
        """A saved model; a one-line :class:`ModelError` when the file is missing, unreadable or was made
        for other classes or measurements than this version computes."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        try:
            with safe_open(str(path), "np") as handle:
                metadata = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        except FileNotFoundError:
            raise ModelError(f"{path}: no such landmark model file") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{path}: not a readable landmark model ({exc})") from None
        if json.loads(metadata.get("classes", "[]")) != list(CLASSES) or \
                json.loads(metadata.get("features", "[]")) != list(FEATURE_NAMES):
            raise ModelError(f"{path}: made for other classes or hand measurements than this emoscope computes")
        try:
            arrays = {k: tensors[k].astype(np.float64) for k in ("mean", "scale", "weights", "bias")}
        except KeyError as missing:
            raise ModelError(f"{path}: not a landmark model (no tensor {missing})") from None
        return cls(**arrays, provenance=json.loads(metadata.get("provenance", "{}")))


def fit_landmark_model(features: np.ndarray, labels: np.ndarray, regularisation: float = 1.0,
                       provenance: dict | None = None) -> LandmarkModel:
    """A :class:`LandmarkModel` fitted on ``features`` (rows of :func:`hand_features`) and ``labels``
    (class names), classes weighted to balance them; ``regularisation`` is scikit-learn's ``C``."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    if set(labels) != set(CLASSES):
        raise ModelError(f"fitting needs examples of every class {CLASSES}, got {sorted(set(labels))}")
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    fitted = LogisticRegression(C=regularisation, max_iter=5000, class_weight="balanced")
    fitted.fit((features - mean) / scale, labels)
    order = [list(fitted.classes_).index(name) for name in CLASSES]
    return LandmarkModel(mean, scale, fitted.coef_[order], fitted.intercept_[order], dict(provenance or {}))
