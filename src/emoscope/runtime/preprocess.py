"""Turn face crops into the exact tensor layout a bundle's spec asks for (numpy only).

:class:`Preprocess` is the one definition of a model's input, shared by training (which stores
the uint8 layout once and normalises each augmented batch) and by both predictors, so a face
reaches a model the same way whether it is being trained or used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.runtime.spec import ModelSpec


def _to_channels(face: np.ndarray, in_chans: int) -> np.ndarray:
    """HxW or HxWxC uint8 -> HxW (in_chans=1) or HxWx3; colour input is taken as BGR (OpenCV)."""
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[:, :, 0]
    if face.ndim == 3 and face.shape[2] == 4:
        face = face[:, :, :3]
    if face.ndim == 2:
        return face if in_chans == 1 else np.repeat(face[:, :, None], 3, axis=2)
    if face.ndim == 3 and face.shape[2] == 3:
        if in_chans == 3:
            return face
        # ITU-R BT.601 luma, the same weights OpenCV's BGR2GRAY uses.
        gray = face[:, :, 0] * 0.114 + face[:, :, 1] * 0.587 + face[:, :, 2] * 0.299
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    raise EmoscopeError(f"cannot use an image of shape {face.shape} as a face crop")


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square resize; area interpolation when shrinking (no aliasing), linear when enlarging."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    import cv2

    shrinking = image.shape[0] > size or image.shape[1] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Preprocess:
    """Face crops -> model input: channels, square resize, then ``(pixel / 255 - mean) / std``."""

    img_size: int
    in_chans: int
    mean: float
    std: float

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Preprocess:
        return cls(img_size=spec.img_size, in_chans=spec.in_chans, mean=spec.mean, std=spec.std)

    def pixels(self, faces: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """uint8 face crops (any size, gray or BGR) -> uint8 ``(N, C, S, S)`` at the model's size."""
        if isinstance(faces, np.ndarray) and faces.ndim == 2:
            faces = faces[None]
        if len(faces) == 0:
            return np.zeros((0, self.in_chans, self.img_size, self.img_size), dtype=np.uint8)
        batch = np.stack([resize(_to_channels(np.asarray(f), self.in_chans), self.img_size) for f in faces])
        return batch[:, None] if self.in_chans == 1 else batch.transpose(0, 3, 1, 2)

    def normalise(self, unit):
        """Pixels scaled to [0, 1] (a numpy array or a torch tensor) -> the normalised model input."""
        return (unit - self.mean) / self.std

    def __call__(self, faces: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """uint8 face crops (any size, gray or BGR) -> float32 ``(N, C, S, S)`` normalised as trained."""
        return self.normalise(self.pixels(faces).astype(np.float32) / 255.0)
