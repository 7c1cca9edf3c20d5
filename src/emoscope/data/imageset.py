"""`ImageSet`: the in-memory form every loader returns and every trainer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from emoscope.data.labels import LabelSet
from emoscope.errors import DataError


@dataclass
class ImageSet:
    """Images as uint8 pixels with integer labels of one :class:`LabelSet`.

    ``images`` is ``(N, H, W)`` for grayscale or ``(N, H, W, C)`` for colour; ``soft_labels``
    (``(N, K)`` float32 rows summing to 1) carries annotator vote distributions where known.
    ``source`` names where the data came from, for messages and model cards.
    """

    images: np.ndarray
    labels: np.ndarray
    label_set: LabelSet
    source: str = ""
    soft_labels: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.images.dtype != np.uint8:
            raise DataError(f"{self.source}: images must be uint8, got {self.images.dtype}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")
        if self.soft_labels is not None and self.soft_labels.shape != (len(self.labels), len(self.label_set)):
            raise DataError(f"{self.source}: soft labels have shape {self.soft_labels.shape}")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.label_set)):
            raise DataError(f"{self.source}: labels outside 0..{len(self.label_set) - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return 1 if self.images.ndim == 3 else self.images.shape[-1]

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.label_set))

    def subset(self, index) -> ImageSet:
        """Rows selected by an index array or boolean mask (copies, so the parent can be freed).

        Per-row ``meta`` arrays (original ``rows``, ``files``, ...) are sliced along, so results
        stay traceable to their source rows.
        """
        index = np.asarray(index)
        per_row = {
            key: value[index]
            for key, value in self.meta.items()
            if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == len(self)
        }
        return replace(
            self,
            images=self.images[index],
            labels=self.labels[index],
            soft_labels=None if self.soft_labels is None else self.soft_labels[index],
            meta={**self.meta, **per_row},
        )

    def to_label_set(self, target: LabelSet) -> ImageSet:
        """Keep only the rows whose class exists in ``target`` and relabel them (e.g. 7 -> 5 classes)."""
        mapping = self.label_set.mapping_to(target)
        if (mapping < 0).all():
            raise DataError(f"{self.source}: no class of {self.label_set.name!r} is in {target.name!r}")
        new_labels = mapping[self.labels]
        keep = new_labels >= 0
        soft = None
        if self.soft_labels is not None:
            # Move the kept classes' vote mass into the new order and renormalise.
            soft = np.zeros((int(keep.sum()), len(target)), dtype=np.float32)
            src_cols = np.flatnonzero(mapping >= 0)
            soft[:, mapping[src_cols]] = self.soft_labels[keep][:, src_cols]
            totals = soft.sum(axis=1, keepdims=True)
            soft = np.where(totals > 0, soft / np.maximum(totals, 1e-12), np.eye(len(target), dtype=np.float32)[new_labels[keep]])
        return replace(
            self.subset(keep),
            labels=new_labels[keep],
            label_set=target,
            soft_labels=soft,
            source=f"{self.source} ({target.name})",
        )
