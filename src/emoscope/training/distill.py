"""Knowledge distillation targets: a trained teacher's probabilities as soft labels (Hinton et al. 2015).

A small student learns more from where a large teacher puts its doubt (fear vs sad, say) than
from one-hot labels alone. The teacher runs once over the images; the targets, blended with the
original labels, travel in a pack (``emoscope pack --teacher``) and a config trains on them with
``soft_labels = true``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.errors import EmoscopeError


def with_teacher_labels(images: ImageSet, teacher, weight: float) -> ImageSet:
    """``images`` with soft labels ``weight * teacher + (1 - weight) * labels`` (votes where known, else one-hot)."""
    if not 0 < weight <= 1:
        raise EmoscopeError(f"teacher weight must be in (0, 1], not {weight}")
    if tuple(teacher.spec.classes) != tuple(images.label_set.classes):
        raise EmoscopeError(f"teacher {teacher.spec.name} predicts {', '.join(teacher.spec.classes)}, but "
                            f"{images.source} is labelled {', '.join(images.label_set.classes)}")
    own = images.soft_labels
    if own is None:
        own = np.eye(len(images.label_set), dtype=np.float32)[images.labels]
    probs = teacher.predict_proba(images.images).astype(np.float32)
    return replace(images, soft_labels=weight * probs + (1 - weight) * own,
                   source=f"{images.source}, {weight:g} x {teacher.spec.name} soft labels")
