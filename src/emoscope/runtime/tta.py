"""Test-time augmentation as views of a prepared batch; predictions average softmax over views."""

from __future__ import annotations

import numpy as np

from emoscope.errors import EmoscopeError

TTA_MODES = ("none", "hflip", "tencrop")


def tta_views(batch: np.ndarray, mode: str) -> list[np.ndarray]:
    """Views of an ``(N, C, S, S)`` batch.

    ``tencrop`` = centre + four corner shifts of an edge-padded image, each also mirrored. The
    shifts (S/12 pixels) match the crop-and-pad training augmentation, so every view stays at the
    trained scale instead of being zoomed.
    """
    if mode == "none":
        return [batch]
    flipped = batch[..., ::-1]
    if mode == "hflip":
        return [batch, flipped]
    if mode == "tencrop":
        size = batch.shape[-1]
        pad = max(1, round(size / 12))
        views = []
        for source in (batch, flipped):
            padded = np.pad(source, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
            for dy, dx in ((pad, pad), (0, 0), (0, 2 * pad), (2 * pad, 0), (2 * pad, 2 * pad)):
                views.append(padded[:, :, dy : dy + size, dx : dx + size])
        return views
    raise EmoscopeError(f"unknown test-time augmentation {mode!r} (choose from {', '.join(TTA_MODES)})")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
