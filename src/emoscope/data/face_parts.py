"""Facial parts on a FER-style face crop: one fixed landmark template for training and for the apps.

FER2013's 48x48 faces are roughly centred and upright, and the pipeline's aligned crops
(:func:`emoscope.faces.crop_faces`: square, eyes levelled) are framed the same way, so a fixed box
per part finds the same feature in both. The boxes were read off the mean FER2013 training face
(eye centres near (15, 18) and (33, 18), nose tip near (24, 27), mouth near (24, 36)). The part
models are trained on these crops (datasets ``fer2013-<part>``, :data:`PART_DATASETS`) and the
desktop app cuts the very same boxes out of its live face crops, so training and inference match.

Left and right are the subject's, as in :func:`emoscope.faces.align.eye_roll_degrees`: the left eye
is on the image's right.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError

TEMPLATE_SIDE = 48
"""The face side the boxes are given for; other sides scale them."""

PART_BOXES: dict[str, tuple[int, int, int, int]] = {
    "left-eye": (24, 9, 42, 27),
    "right-eye": (6, 9, 24, 27),
    "nose": (16, 18, 32, 34),
    "mouth": (12, 28, 36, 44),
}
"""x1, y1, x2, y2 (exclusive) on a 48x48 face."""

PARTS = tuple(PART_BOXES)
PART_DATASETS = {f"fer2013-{part}": part for part in PARTS}
"""Dataset names :func:`emoscope.data.load_dataset` knows: FER2013 cropped to one part."""
PART_MODEL_PREFIX = "part-"
"""Shipped part models are named ``part-<part>``; they read one part, not a whole face."""


def part_model_name(part: str) -> str:
    return PART_MODEL_PREFIX + _known(part)


def is_part_model(name: str) -> bool:
    return name.startswith(PART_MODEL_PREFIX) and name[len(PART_MODEL_PREFIX):] in PART_BOXES


def part_dataset(model_name: str) -> str | None:
    """The dataset a part model reads and is measured on (``part-mouth`` -> ``fer2013-mouth``); None
    for any other model."""
    return f"fer2013-{model_name[len(PART_MODEL_PREFIX):]}" if is_part_model(model_name) else None


def _known(part: str) -> str:
    if part not in PART_BOXES:
        raise DataError(f"unknown face part {part!r} (choose {', '.join(PARTS)})")
    return part


def part_box(part: str, height: int, width: int) -> tuple[int, int, int, int]:
    """The part's box on a face of ``height`` x ``width`` pixels (the template scaled)."""
    x1, y1, x2, y2 = PART_BOXES[_known(part)]
    sx, sy = width / TEMPLATE_SIDE, height / TEMPLATE_SIDE
    return round(x1 * sx), round(y1 * sy), max(round(x2 * sx), round(x1 * sx) + 1), max(round(y2 * sy), round(y1 * sy) + 1)


def crop_part(face: np.ndarray, part: str) -> np.ndarray:
    """The part's pixels of one face crop (gray HxW or colour HxWxC), a copy."""
    x1, y1, x2, y2 = part_box(part, face.shape[0], face.shape[1])
    return face[y1:y2, x1:x2].copy()


def crop_parts(faces: np.ndarray, part: str) -> np.ndarray:
    """The part of every face of an ``(N, H, W[, C])`` batch of same-sized faces."""
    x1, y1, x2, y2 = part_box(part, faces.shape[1], faces.shape[2])
    return np.ascontiguousarray(faces[:, y1:y2, x1:x2])


def mask_part(face: np.ndarray, part: str) -> np.ndarray:
    """A copy of the face with the part's box filled with the face's mean grey: occlusion that removes
    the part's information without adding an edge pattern of its own (as black or white would)."""
    x1, y1, x2, y2 = part_box(part, face.shape[0], face.shape[1])
    masked = face.copy()
    masked[y1:y2, x1:x2] = np.round(face.reshape(-1, *face.shape[2:]).mean(axis=0)).astype(face.dtype)
    return masked


def load_fer2013_part(part: str, csv_path: str | Path, split: str | None = None, **kwargs) -> ImageSet:
    """FER2013 (``split`` as for :func:`emoscope.data.load_fer2013`) with every face cut to one part."""
    from emoscope.data.fer2013 import load_fer2013

    faces = load_fer2013(csv_path, split, **kwargs)
    if faces.image_size != (TEMPLATE_SIDE, TEMPLATE_SIDE):
        raise DataError(f"{faces.source}: the part template needs {TEMPLATE_SIDE}x{TEMPLATE_SIDE} faces, "
                        f"got {faces.image_size[0]}x{faces.image_size[1]}")
    return replace(faces, images=crop_parts(faces.images, part), source=f"{faces.source} ({part} crop)",
                   meta={**faces.meta, "part": part})
