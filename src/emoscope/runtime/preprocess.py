"""Turn face crops into the exact tensor layout a bundle's spec asks for (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

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


def prepare_batch(faces: np.ndarray | Sequence[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """uint8 face crops (any size, gray or BGR) -> float32 ``(N, C, S, S)`` normalised as trained."""
    if isinstance(faces, np.ndarray) and faces.ndim == 2:
        faces = faces[None]
    if len(faces) == 0:
        return np.zeros((0, spec.in_chans, spec.img_size, spec.img_size), dtype=np.float32)
    crops = [resize(_to_channels(np.asarray(f), spec.in_chans), spec.img_size) for f in faces]
    batch = np.stack(crops).astype(np.float32)
    batch = batch[:, None] if spec.in_chans == 1 else batch.transpose(0, 3, 1, 2)
    return (batch / 255.0 - spec.mean) / spec.std
